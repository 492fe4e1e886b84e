"""Single-view top-1 / top-5 of sub-network configs, and the final test of a run.

This is the simple evaluator used during training: every loader item is one view, scored alone.
Batch-norm statistics are the running ones shared by all configs during training, NOT
re-calibrated per config; ``evaluate`` takes a ``calibrate_bn(model, config)`` callable, run
before each config, where BN re-calibration plugs in. Multi-view testing is a separate tool.
"""
import logging
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config import SubnetConfig
from ..data import build_loader
from ..data.derive import Inputs, derive_input
from ..models import build_model
from ..slim import width
from ..utils import distributed as du
from ..utils.checkpoint import get_last_checkpoint, load_checkpoint
from ..utils.logging import StatsLog
from ..utils.meters import topk_correct
from .batch import to_device
from .sampler import ConfigSampler

logger = logging.getLogger(__name__)

CalibrateBN = Callable[[nn.Module, SubnetConfig], None]
PLACEHOLDER_NOTE = ("single view per item, WITHOUT BN re-calibration (placeholder: every config uses "
                    "the running BN statistics shared during training)")


def eval_input(inputs: Inputs, sub: SubnetConfig, full: SubnetConfig, reduce_pathways: Sequence[int]) -> Inputs:
    """The input of ``sub`` derived from an evaluation clip.

    The clip may be larger than the training crop (``TEST_CROP_SIZE``, e.g. 256 for a 224 model):
    the sub-network's crop is then scaled by the same ratio, clip size / full crop.
    """
    clip = inputs if isinstance(inputs, torch.Tensor) else inputs[0]
    crop = round(sub.crop * clip.shape[-1] / full.crop)
    return derive_input(inputs, SubnetConfig(sub.width, crop, sub.frames), reduce_pathways)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    configs: Sequence[SubnetConfig],
    full: SubnetConfig,
    device: torch.device,
    *,
    reduce_pathways: Sequence[int] = (0,),
    amp: bool = False,
    calibrate_bn: Optional[CalibrateBN] = None,
) -> Dict[SubnetConfig, Tuple[float, float]]:
    """Top-1 and top-5 accuracy (%) of each config over ``loader``, summed over all ranks.

    Args:
        model: the slimmable model (not DDP-wrapped: each rank scores its own shard).
        loader: yields ``(inputs, labels, index, meta)``.
        configs: configs to evaluate; ``full`` names the full config (for ``eval_input``).
        amp: run the forwards under CUDA autocast.
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
                inputs, labels = to_device(inputs, device), labels.to(device)
                with torch.autocast("cuda", enabled=amp):
                    logits = model(eval_input(inputs, sub, full, reduce_pathways))
                counts += torch.tensor([*topk_correct(logits.float(), labels), labels.shape[0]], dtype=torch.float64)
        top1, top5, n = du.all_reduce_sum(counts.to(device)).tolist()
        results[sub] = (100.0 * top1 / max(n, 1), 100.0 * top5 / max(n, 1))
    model.train(was_training)
    return results


def accuracy_record(kind: str, results: Dict[SubnetConfig, Tuple[float, float]], **fields) -> dict:
    """A json stats record of ``evaluate`` results: PySlowFast's ``top1_err`` / ``top5_err`` of the
    first (full) config, and per config (``configs``) the ``top1_acc`` / ``top5_acc`` lists."""
    (top1, top5), *_ = results.values()
    return {
        "_type": kind, **fields, "top1_err": 100.0 - top1, "top5_err": 100.0 - top5,
        "configs": [str(c) for c in results], "top1_acc": [r[0] for r in results.values()],
        "top5_acc": [r[1] for r in results.values()], "bn_calibrated": False,
    }


def test(cfg: CfgNode, model: Optional[nn.Module] = None) -> Dict[SubnetConfig, Tuple[float, float]]:
    """The final evaluation of a run (TEST.ENABLE): the full and the smallest config on the test
    split (a ``test`` json stats record). Without ``model``, the weights come from
    TEST.CHECKPOINT_FILE_PATH, else the last checkpoint in OUTPUT_DIR, else
    TRAIN.CHECKPOINT_FILE_PATH (PySlowFast's order)."""
    device = du.get_device(cfg)
    if model is None:
        model = build_model(cfg)
        path = cfg.TEST.CHECKPOINT_FILE_PATH or get_last_checkpoint(cfg.OUTPUT_DIR) or cfg.TRAIN.CHECKPOINT_FILE_PATH
        if path:
            load_checkpoint(path, model)
        else:
            logger.warning("testing a randomly initialised model (no checkpoint found): for debugging only")
    model = du.unwrap(model).to(device)
    sampler = ConfigSampler(cfg)
    configs = list(dict.fromkeys([sampler.full, sampler.smallest]))
    logger.info("test: %s", PLACEHOLDER_NOTE)
    results = evaluate(model, build_loader(cfg, "test"), configs, sampler.full, device,
                       reduce_pathways=cfg.MUTUALNET.REDUCE_PATHWAYS,
                       amp=cfg.TRAIN.MIXED_PRECISION and device.type == "cuda")
    for sub, (top1, top5) in results.items():
        logger.info("test %s: top-1 %.2f%%, top-5 %.2f%%", sub, top1, top5)
    stats = StatsLog(cfg)
    stats.write(accuracy_record("test", results), step=0)
    stats.close()
    return results
