"""BatchNorm re-calibration per sub-network config, the bank that keeps the results and where it is stored.

A slimmable network's BN statistics depend on width, crop and frame count; the shared running
statistics left by training fit none of them. ``calibrate_bn`` resets them and recomputes them on
training clips with the weights frozen: BN layers in train mode with ``momentum=None`` (cumulative
average over batches), everything else in eval mode, no gradients. ``BNBank`` keeps each config's
statistics (only the active channels), so evaluation and export never calibrate a config twice;
``BankStore`` keeps the bank of a checkpoint on disk and calibrates what it lacks on the training split
(``bank_batches``: MUTUALNET.EVAL_GRID.BN_BATCHES per config); ``bn_calibrator`` serves the trainer's
validation (BN.NUM_BATCHES_PRECISE per config, calibrated afresh, not stored).

How many batches matter: a MutualNet-trained network can be far more sensitive to its BN statistics
than a static one. On the demo (X3D, 95k parameters, batch 16), eight calibration batches drawn with 4
different seeds moved the full config's val top-1 of ONE checkpoint over 56-73%, against 67-69% with 24.
"""
import itertools
import os
from typing import Callable, Dict, Iterable, Iterator, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config.subnet import SubnetConfig
from ..data import build_loader
from ..slim import SlimMixin, width as at_width
from ..utils import distributed as du
from ..utils.checkpoint import atomic_save, read_entry, update_checkpoint

Stats = Dict[str, Dict[str, torch.Tensor]]  # BN module name -> {"mean", "var"}


def batch_norms(model: nn.Module) -> Iterator[tuple]:
    return ((n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def _active(bn: nn.Module) -> int:
    return bn.active_shape()[1] if isinstance(bn, SlimMixin) else bn.num_features


@torch.no_grad()
def calibrate_bn(
    model: nn.Module,
    batches: Iterable,
    sub: SubnetConfig,
    num_batches: int,
    forward: Optional[Callable[[nn.Module, object], object]] = None,
) -> Stats:
    """Recompute BN running statistics of ``model`` at ``sub`` and return them.

    Args:
        model: the slimmable model (unwrapped); its weights are not changed.
        batches: model inputs already at ``sub``'s frames and crop (see ``derive_input``).
        sub: the config; the model runs at ``sub.width``.
        num_batches: how many batches to use (BN.NUM_BATCHES_PRECISE); fewer if ``batches`` ends.
        forward: ``forward(model, batch)``; default ``model(batch)``.
    Returns:
        ``{bn_name: {"mean": (C_active,), "var": (C_active,)}}``, also left in the model's buffers.
    """
    forward = forward or (lambda m, x: m(x))
    bns = dict(batch_norms(model))
    was_training = model.training
    momenta = {name: bn.momentum for name, bn in bns.items()}
    model.eval()
    used = 0
    try:
        with at_width(model, sub.width):
            for bn in bns.values():
                bn.reset_running_stats()
                bn.momentum = None  # cumulative average
                bn.train()
            for batch in itertools.islice(batches, num_batches):  # no batch drawn beyond num_batches
                forward(model, batch)
                used += 1
            if used == 0:
                raise ValueError(f"BN calibration of {sub} got no batches")
            stats = {name: {"mean": bn.running_mean[: _active(bn)].clone(),
                            "var": bn.running_var[: _active(bn)].clone()} for name, bn in bns.items()}
    finally:
        for name, bn in bns.items():
            bn.momentum = momenta[name]
        model.train(was_training)
    return stats


class BNBank:
    """Calibrated BN statistics per sub-network config, keyed by ``str(SubnetConfig)``.

    ``state_dict()`` holds only tensors, str keys and ints, so it is saved inside a ``.pyth``
    checkpoint and loads with ``torch.load(weights_only=True)``.
    """

    def __init__(self, entries: Optional[Dict[str, dict]] = None):
        self.entries: Dict[str, dict] = dict(entries or {})

    def __contains__(self, sub: SubnetConfig) -> bool:
        return str(sub) in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def configs(self):
        return [SubnetConfig.parse(k) for k in self.entries]

    def add(self, sub: SubnetConfig, stats: Stats, num_batches: int) -> None:
        self.entries[str(sub)] = {"stats": stats, "num_batches": int(num_batches)}

    def num_batches(self, sub: SubnetConfig) -> int:
        return self.entries[str(sub)]["num_batches"]

    @torch.no_grad()
    def apply(self, model: nn.Module, sub: SubnetConfig) -> None:
        """Load ``sub``'s statistics into the model's BN buffers (the active channels)."""
        if sub not in self:
            raise KeyError(f"no calibrated BN statistics for {sub}; calibrated: {sorted(self.entries)}")
        stats = self.entries[str(sub)]["stats"]
        for name, bn in batch_norms(model):
            if name not in stats:
                raise KeyError(f"BN bank entry {sub} has no statistics for layer {name}")
            n = stats[name]["mean"].numel()
            bn.running_mean[:n].copy_(stats[name]["mean"])
            bn.running_var[:n].copy_(stats[name]["var"])

    def calibrate(self, model: nn.Module, batches: Iterable, sub: SubnetConfig, num_batches: int,
                  forward=None, reduce: Optional[Callable[[Stats], Stats]] = None) -> bool:
        """Leave ``sub``'s statistics in the model, calibrating first if the bank lacks them (or has
        fewer batches than asked); ``reduce`` post-processes fresh statistics (e.g. averages them
        over ranks). ``batches`` is only iterated when calibrating. Returns True if it calibrated."""
        if sub in self and self.num_batches(sub) >= num_batches:
            self.apply(model, sub)
            return False
        stats = calibrate_bn(model, batches, sub, num_batches, forward)
        self.add(sub, stats if reduce is None else reduce(stats), num_batches)
        self.apply(model, sub)
        return True

    def state_dict(self) -> dict:
        return {"entries": self.entries}

    @classmethod
    def from_state_dict(cls, state: Optional[dict]) -> "BNBank":
        return cls((state or {}).get("entries"))


BANK_FILE = "bn_bank.pyth"


def calibration_batches(cfg: CfgNode, sub: SubnetConfig, device: torch.device):
    """Training clips at ``sub``'s frames and crop, on ``device``, without end: a split shorter than
    the batches asked for is drawn again (a new shuffle, new random views). Ends only if the split
    yields no batch at all."""
    while True:
        drawn = 0
        for inputs, *_ in build_loader(cfg, "train", sub=sub):
            drawn += 1
            yield du.to_device(inputs, device)
        if not drawn:
            return


def bank_batches(cfg: CfgNode) -> int:
    """Calibration batches per config of the stored bank (grid and export):
    MUTUALNET.EVAL_GRID.BN_BATCHES, else (0) BN.NUM_BATCHES_PRECISE."""
    return cfg.MUTUALNET.EVAL_GRID.BN_BATCHES or cfg.BN.NUM_BATCHES_PRECISE


def rank_mean(stats: Stats) -> Stats:
    """Each rank calibrated on its own shard: average the statistics over ranks."""
    return {name: {k: du.all_reduce_mean(v) for k, v in s.items()} for name, s in stats.items()}


def bn_calibrator(cfg: CfgNode, device: torch.device) -> Callable[[nn.Module, SubnetConfig], None]:
    """``calibrate(model, sub)``: re-calibrate BN statistics of ``sub`` on BN.NUM_BATCHES_PRECISE
    training batches (averaged over ranks), without storing them (the trainer's validation)."""
    def calibrate(model: nn.Module, sub: SubnetConfig) -> None:
        BNBank().calibrate(model, calibration_batches(cfg, sub, device), sub, cfg.BN.NUM_BATCHES_PRECISE,
                           reduce=rank_mean)

    return calibrate


class BankStore:
    """The BN bank of one checkpoint, on disk: inside the checkpoint (key ``bn_bank``) when it is one
    of this run's (under OUTPUT_DIR), else ``OUTPUT_DIR/bn_bank.pyth`` tagged with the checkpoint's
    path (a bank calibrated for other weights is not reused).

    ``store.prepare(model, sub, device)`` leaves ``sub``'s statistics in the model, calibrating them
    first on ``bank_batches(cfg)`` training batches (and saving the bank) if it lacks them or holds
    them from fewer batches.
    """

    def __init__(self, cfg: CfgNode, checkpoint: Optional[str]):
        self.cfg, self.checkpoint = cfg, checkpoint
        inside = checkpoint and os.path.abspath(checkpoint).startswith(os.path.abspath(cfg.OUTPUT_DIR) + os.sep)
        self.path = checkpoint if inside else os.path.join(cfg.OUTPUT_DIR, BANK_FILE)
        self.inside = bool(inside)
        self.bank = self._load()

    def _load(self) -> BNBank:
        if not self.path or not os.path.isfile(self.path):
            return BNBank()
        if not self.inside and read_entry(self.path, "checkpoint") != self.checkpoint:
            return BNBank()  # calibrated for other weights
        return BNBank.from_state_dict(read_entry(self.path, "bn_bank"))

    def save(self) -> None:
        if not du.is_master_proc():
            return
        if self.inside:
            update_checkpoint(self.path, bn_bank=self.bank.state_dict())
        else:
            atomic_save({"checkpoint": self.checkpoint, "bn_bank": self.bank.state_dict()}, self.path)

    def prepare(self, model: nn.Module, sub: SubnetConfig, device: torch.device) -> bool:
        """Apply ``sub``'s statistics to ``model``; returns True if they had to be calibrated."""
        num = bank_batches(self.cfg)
        if not self.bank.calibrate(model, calibration_batches(self.cfg, sub, device), sub, num, reduce=rank_mean):
            return False
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.save()
        return True
