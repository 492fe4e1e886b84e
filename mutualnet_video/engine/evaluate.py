"""Single-view top-1 / top-5 of sub-network configs: the validation during training.

Every loader item is one view, scored alone. ``evaluate`` takes a ``calibrate_bn(model, config)``
callable, run before each config (the trainer passes BN re-calibration on training clips). The
final multi-view test over the whole grid is ``engine.grid``.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..budget.space import SubnetSpace
from ..config import SubnetConfig
from ..slim import width
from ..utils import distributed as du
from ..utils.meters import topk_correct

CalibrateBN = Callable[[nn.Module, SubnetConfig], None]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    configs: Sequence[SubnetConfig],
    space: SubnetSpace,
    device: torch.device,
    *,
    amp: bool = False,
    calibrate_bn: Optional[CalibrateBN] = None,
) -> Dict[SubnetConfig, Tuple[float, float]]:
    """Top-1 and top-5 accuracy (%) of each config over ``loader``, summed over all ranks.

    Args:
        model: the slimmable model (not DDP-wrapped: each rank scores its own shard).
        loader: yields ``(inputs, labels, index, meta)``, full clips at the training crop (the val split).
        configs: configs to evaluate; each one's input is derived from the clips by ``space``.
        amp: run the forwards under autocast on ``device``.
        calibrate_bn: called as ``calibrate_bn(model, config)`` before each config is scored.
    Returns:
        ``{config: (top1, top5)}``.
    """
    was_training = model.training
    model.eval()
    results = {}
    for sub in configs:
        if calibrate_bn is not None:
            calibrate_bn(model, sub)
            model.eval()
        counts = torch.zeros(3, dtype=torch.float64)  # top-1 hits, top-5 hits, items
        with width(model, sub.width):
            for inputs, labels, _, _ in loader:
                inputs, labels = du.to_device(inputs, device), du.to_device(labels, device)
                with torch.autocast(device.type, enabled=amp):
                    logits = model(space.derive(inputs, sub))
                counts += torch.tensor([*topk_correct(logits.float(), labels), labels.shape[0]], dtype=torch.float64)
        top1, top5, n = du.all_reduce_sum(counts.to(device)).tolist()
        results[sub] = (100.0 * top1 / max(n, 1), 100.0 * top5 / max(n, 1))
    model.train(was_training)
    return results


def accuracy_record(kind: str, results: Dict[SubnetConfig, Tuple[float, float]], bn_calibrated: bool,
                    **fields) -> dict:
    """A json stats record of ``evaluate`` results: PySlowFast's ``top1_err`` / ``top5_err`` of the
    first (full) config, and per config (``configs``) the ``top1_acc`` / ``top5_acc`` lists."""
    (top1, top5), *_ = results.values()
    return {
        "_type": kind, **fields, "top1_err": 100.0 - top1, "top5_err": 100.0 - top5,
        "configs": [str(c) for c in results], "top1_acc": [r[0] for r in results.values()],
        "top5_acc": [r[1] for r in results.values()], "bn_calibrated": bn_calibrated,
    }
