#!/usr/bin/env python3
"""How each loss of a mutual step pushes the full config towards the object and towards the direction.

    python experiments/object_gradients.py --run output/demo/X3D_DEMO --epochs 5 20 35 60 [--batches 6]

For checkpoints of a run on the synthetic object x direction data (``data_prep.make_synthetic``), on a
few training batches, with the configs the run's sampler draws at its first steps and dropout off, the gradient
over all weights of:

- ``label``: the full config's label loss (what every method trains the full config with);
- ``distill``: the sub-networks' distillation losses, summed (the method: MUTUALNET.INPLACE_DISTILL True);
- ``sub_labels``: the same sub-networks' label losses, summed (the ablation without distillation);

each summed over the batches and projected on the gradient of two losses of the full config alone:
``object``, the cross-entropy of its probability of the true object (summed over the directions), and
``direction``, likewise. A positive projection means a step on that loss also teaches the full config
the object (or the direction); ``cos_object`` is the cosine with the object gradient. ``p_object`` and
``p_direction``: the full config's mean probability of the true object and direction, the target that
distillation hands to the sub-networks. One json line per checkpoint.
"""
import argparse
import itertools
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from experiments.results import FACTORS, class_names, factor_parts  # noqa: E402
from mutualnet_video.config import load_config  # noqa: E402
from mutualnet_video.data.build import build_loader  # noqa: E402
from mutualnet_video.data.derive import derive_input  # noqa: E402
from mutualnet_video.engine import ConfigSampler, distillation_loss, label_loss  # noqa: E402
from mutualnet_video.engine.trainer import seed_everything  # noqa: E402
from mutualnet_video.models import build_model  # noqa: E402
from mutualnet_video.models.loading import load_checkpoint  # noqa: E402
from mutualnet_video.slim import width  # noqa: E402
from mutualnet_video.utils.checkpoint import checkpoint_path  # noqa: E402

LOSSES = ("label", "distill", "sub_labels")


def factor_index(names: Sequence[str]) -> Dict[str, torch.Tensor]:
    """Per factor, ``(K,)``: the index of each class's object (direction) among the sorted objects
    (directions); ``names``: the class names in label order."""
    parts = factor_parts(names)
    if parts is None:
        raise SystemExit(f"class names must be <object>_<direction> (synthetic data), got {names}")
    out = {}
    for f, factor in enumerate(FACTORS):
        values = sorted({p[f] for p in parts})
        out[factor] = torch.tensor([values.index(p[f]) for p in parts])
    return out


def factor_probs(logits: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """``(N, K)`` logits -> ``(N, G)``: the probability of each group (classes summed)."""
    probs = torch.softmax(logits.float(), dim=-1)
    return probs.new_zeros(len(probs), int(group.max()) + 1).index_add_(1, group, probs)


def _flat_grad(loss: torch.Tensor, params: List[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for g, p in zip(grads, params)])


def measure(model, batches: Sequence, sampler: ConfigSampler, groups: Dict[str, torch.Tensor], loss_fn) -> Dict:
    """The projections (see the module doc), summed over ``batches`` and divided by their number."""
    params = [p for p in model.parameters() if p.requires_grad]
    total: Dict[str, torch.Tensor] = {}
    right, p_true = 0.0, dict.fromkeys(FACTORS, 0.0)
    for b, (x, y, _, _) in enumerate(batches):
        configs = sampler.sample(b)
        full = model(x)  # (N, K)
        grads = {"label": _flat_grad(loss_fn(full.float(), y), params)}
        for factor, group in groups.items():
            probs = factor_probs(full, group)  # (N, G)
            grads[factor] = _flat_grad(F.nll_loss(torch.log(probs.clamp_min(1e-12)), group[y]), params)
            p_true[factor] += probs.gather(1, group[y][:, None]).mean().item()
        target = torch.softmax(full.detach().float(), dim=-1)
        distill, sub_labels = 0.0, 0.0
        for sub in configs[1:]:
            with width(model, sub.width):
                logits = model(derive_input(x, sub))
            distill = distill + distillation_loss(logits, target)
            sub_labels = sub_labels + loss_fn(logits.float(), y)
        grads["distill"], grads["sub_labels"] = _flat_grad(distill, params), _flat_grad(sub_labels, params)
        for key, g in grads.items():
            total[key] = total.get(key, 0) + g
        right += full.argmax(-1).eq(y).float().mean().item()
    n = len(batches)
    units = {factor: total[factor] / total[factor].norm() for factor in FACTORS}
    row = {"fit_full": round(right / n, 3), **{f"p_{f}": round(p_true[f] / n, 3) for f in FACTORS}}
    for key in LOSSES:
        g = total[key]
        row[key] = {"norm": round(g.norm().item() / n, 4),
                    **{f"on_{f}": round((g @ units[f]).item() / n, 4) for f in FACTORS},
                    "cos_object": round(F.cosine_similarity(g, total["object"], dim=0).item(), 3)}
    return row


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a run's OUTPUT_DIR (its config.yaml and checkpoints/)")
    parser.add_argument("--epochs", type=int, nargs="+", required=True, help="the checkpoints' epochs (1-based)")
    parser.add_argument("--batches", type=int, default=6, help="training batches per checkpoint (the same for all)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config(os.path.join(args.run, "config.yaml"), ["MODEL.DROPOUT_RATE", "0.0", "DATA_LOADER.NUM_WORKERS", "0"])
    groups = factor_index(class_names(cfg.DATA.PATH_TO_DATA_DIR))
    seed_everything(cfg.RNG_SEED)  # the same batches on every call
    batches = list(itertools.islice(build_loader(cfg, "train"), args.batches))
    model = build_model(cfg)
    for epoch in args.epochs:
        load_checkpoint(checkpoint_path(args.run, epoch), model)
        row = measure(model.train(), batches, ConfigSampler(cfg), groups, label_loss(cfg.MODEL.LOSS_FUNC))
        print(json.dumps({"run": args.run, "epoch": epoch, **row}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
