"""The reproduction's protocol: the methods, the runs each seed makes, the learning-rate sweep, and
the config overrides of every run.

Methods (all from the same base config, the same optimizer steps and data):

- ``mutualnet``: width x crop x frames with in-place distillation;
- ``mutualnet_wc``: ablation, width x crop only (MUTUALNET.NUM_FRAMES_LIST = [full frames]);
- ``mutualnet_wt``: ablation, width x frames only (MUTUALNET.CROP_SIZES = [full crop]);
- ``mutualnet_labels``: ablation, width x crop x frames with every sub-network learning from the labels
  instead of the full config's prediction (MUTUALNET.INPLACE_DISTILL False);
- ``sandwich``: width only (US-Nets), every sub-network at the full input;
- ``static``: a plain network trained at exactly one grid config (default: the cheapest and the full).

The learning rate is swept per method on val with seed 0 for ``SWEPT`` (static at its costliest
config), over a grid, extended past its end while a method's best rate is there
(``next_sweep_rate``); the ablations take MutualNet's rate and every static config the static rate
(``LR_FROM``).
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from mutualnet_video.budget import SubnetSpace
from mutualnet_video.config import SubnetConfig

METHODS = ("mutualnet", "mutualnet_wc", "mutualnet_wt", "mutualnet_labels", "sandwich", "static")
SWEPT = ("mutualnet", "sandwich", "static")
LR_FROM = {"mutualnet": "mutualnet", "mutualnet_wc": "mutualnet", "mutualnet_wt": "mutualnet",
           "mutualnet_labels": "mutualnet", "sandwich": "sandwich", "static": "static"}
LABELS = {"mutualnet": "MutualNet (width x crop x frames)", "mutualnet_wc": "MutualNet, width x crop only",
          "mutualnet_wt": "MutualNet, width x frames only",
          "mutualnet_labels": "MutualNet, sub-networks on labels (no distillation)",
          "sandwich": "Sandwich, width only (US-Nets)", "static": "static (trained alone)"}
SWEEP_SEED = 0


@dataclass(frozen=True)
class Run:
    """One training run: a method (``config``: the static model's config), a seed and a learning rate."""

    method: str
    seed: int
    lr: float
    config: Optional[SubnetConfig] = None

    @property
    def name(self) -> str:
        return self.method if self.config is None else f"static_{self.config}"

    def sweep_dir(self, out: str) -> str:
        """Where the sweep keeps this run (seed 0, one learning rate)."""
        return os.path.join(out, "sweep", f"{self.name}-lr{self.lr:g}")

    def seed_dir(self, out: str) -> str:
        return os.path.join(out, f"seed{self.seed}", self.name)


def full_config(reference) -> SubnetConfig:
    """The largest config of the evaluation grid."""
    return SubnetSpace(reference).eval_grid()[0]


def choose_static_configs(requested: Optional[Sequence[SubnetConfig]], reference, flops) -> List[SubnetConfig]:
    """``requested`` (checked against the grid), else the cheapest (by ``flops``) and the full grid config."""
    grid = SubnetSpace(reference).eval_grid()
    unknown = [sub for sub in requested or [] if sub not in grid]
    if unknown:
        raise SystemExit(f"--static-configs: {', '.join(map(str, unknown))} not in the evaluation grid "
                         f"{', '.join(map(str, grid))}")
    if requested:
        return list(dict.fromkeys(requested))
    return list(dict.fromkeys([min(grid, key=lambda sub: (flops(sub), sub)), full_config(reference)]))


def sweep_static_config(static_configs: Sequence[SubnetConfig], flops) -> SubnetConfig:
    """The static config the static learning rate is swept at: the costliest one (the full config)."""
    return max(static_configs, key=lambda sub: (flops(sub), sub))


def check_methods(methods: Sequence[str]) -> List[str]:
    """``methods`` in protocol order; MutualNet and at least one other (every comparison is
    MutualNet minus another method)."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"--methods: unknown {', '.join(unknown)} (known: {', '.join(METHODS)})")
    if "mutualnet" not in methods or len(set(methods)) < 2:
        raise SystemExit("--methods: needs mutualnet and at least one method to compare it with")
    return [m for m in METHODS if m in methods]


def swept(methods: Sequence[str]) -> List[str]:
    """The methods whose learning rate is swept for ``methods`` (each one's ``LR_FROM``)."""
    return [m for m in SWEPT if any(LR_FROM[other] == m for other in methods)]


def sweep_runs(lrs: Sequence[float], static_config: SubnetConfig, methods: Sequence[str] = METHODS) -> List[Run]:
    """Seed 0, every swept method at every learning rate."""
    return [Run(method, SWEEP_SEED, lr, static_config if method == "static" else None)
            for method in swept(methods) for lr in lrs]


def best_rate(scores: Dict[float, Optional[float]]) -> float:
    """The rate with the best sweep score (None: the training diverged, worse than any); ties: the smaller rate."""
    finite = {lr: score for lr, score in scores.items() if score is not None}
    if not finite:
        raise SystemExit(f"every rate of the sweep diverged: {sorted(scores)}; try smaller --lrs")
    return max(finite, key=lambda lr: (finite[lr], -lr))


def next_sweep_rate(lrs: Sequence[float], scores: Dict[float, Optional[float]], extend: int) -> Optional[float]:
    """The rate a method's sweep tries next, or None when it is done. ``lrs``: the sweep's grid;
    ``scores``: the method's score per rate tried so far (None: diverged). When the best rate is the
    smallest or the largest tried, and fewer than ``extend`` rates were added beyond the grid on that
    side, the next one beyond it by the grid's geometric step, to one significant digit (the grid
    0.01, 0.03, 0.1 goes on to 0.3 and 1 above, 0.003 and 0.001 below): a best rate at an end of
    the grid may not be the method's best, and an unbracketed baseline would favour MutualNet."""
    grid, tried = sorted(lrs), sorted(scores)
    if len(grid) < 2:
        return None
    best = best_rate(scores)
    side = -1 if best == tried[0] else 1 if best == tried[-1] else 0
    if side == 0:
        return None
    added = sum(1 for lr in tried if (lr < grid[0] if side < 0 else lr > grid[-1]))
    if added >= extend:
        return None
    step = (grid[-1] / grid[0]) ** (1 / (len(grid) - 1))
    edge = grid[0] if side < 0 else grid[-1]
    rate = float(f"{edge * step ** (side * (added + 1)):.1g}")
    return None if rate in scores else rate


def lr_of_method(swept: Dict[str, Dict], methods: Sequence[str] = METHODS) -> Dict[str, float]:
    """The learning rate of each of ``methods``: the one chosen for the method it borrows its sweep
    from (``LR_FROM``); ``swept``: the sweep's entry per swept method (its ``chosen`` rate)."""
    return {method: swept[LR_FROM[method]]["chosen"] for method in methods}


def seed_runs(seeds: Sequence[int], lrs: Dict[str, float], static_configs: Sequence[SubnetConfig],
              methods: Sequence[str] = METHODS) -> List[Run]:
    """Per seed: every method at its learning rate (``lrs``, from ``lr_of_method``), one run per static config."""
    runs = []
    for seed in seeds:
        for method in methods:
            lr = lrs[method]
            runs += [Run(method, seed, lr, c) for c in static_configs] if method == "static" else [Run(method, seed, lr)]
    return runs


def reuses_sweep(run: Run, sweep: Sequence[Run]) -> bool:
    """A seed run that the sweep already trained (seed 0, the chosen rate)."""
    return run in sweep


def method_opts(reference, run: Run) -> List[str]:
    """The overrides that make ``run``'s method out of the base config, and its learning rate."""
    full = SubnetSpace(reference).full
    opts = ["RNG_SEED", str(run.seed), "SOLVER.BASE_LR", f"{run.lr:g}",
            "MUTUALNET.MODE", "mutualnet" if run.method.startswith("mutualnet") else run.method]
    if run.method == "mutualnet_wc":
        opts += ["MUTUALNET.NUM_FRAMES_LIST", f"[{full.frames}]"]
    elif run.method == "mutualnet_wt":
        opts += ["MUTUALNET.CROP_SIZES", f"[{full.crop}]"]
    elif run.method == "mutualnet_labels":
        opts += ["MUTUALNET.INPLACE_DISTILL", "False"]
    elif run.method == "static":
        opts += static_opts(reference, run.config)
    return opts


def static_opts(cfg, sub: SubnetConfig) -> List[str]:
    """Overrides that make a plain network of exactly config ``sub`` of ``cfg``'s grid: width range
    [w, w], crop c (train jitter scaled like the crop, test crop as the grid tests c), t frames over
    the full clip's time span, and a one-config grid."""
    span = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE
    if span % sub.frames:
        raise SystemExit(f"{sub}: {sub.frames} frames cannot span the full clip's {span} frames evenly")
    space = SubnetSpace(cfg)
    scale = sub.crop / space.full.crop
    jitter = [round(s * scale) for s in cfg.DATA.TRAIN_JITTER_SCALES]
    w = f"{sub.width:g}"
    return [
        "MUTUALNET.WIDTH_RANGE", f"[{w}, {w}]",
        "DATA.TRAIN_CROP_SIZE", str(sub.crop), "DATA.TEST_CROP_SIZE", str(space.test_config(sub).crop),
        "DATA.TRAIN_JITTER_SCALES", str(jitter),
        "DATA.NUM_FRAMES", str(sub.frames), "DATA.SAMPLING_RATE", str(span // sub.frames),
        "MUTUALNET.CROP_SIZES", f"[{sub.crop}]", "MUTUALNET.NUM_FRAMES_LIST", f"[{sub.frames}]",
        "MUTUALNET.EVAL_GRID.WIDTHS", f"[{w}]", "MUTUALNET.EVAL_GRID.CROPS", f"[{sub.crop}]",
        "MUTUALNET.EVAL_GRID.FRAMES", f"[{sub.frames}]",
    ]
