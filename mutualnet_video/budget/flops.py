"""GFLOPs and parameters of a sub-network config, counted as PySlowFast's model zoo reports them.

fvcore's ``FlopCountAnalysis`` on a batch-1, single-view input; one multiply-add counts as one flop.
Counted ops: convolutions and linear layers / matrix products (``conv``, ``linear``, ``addmm``,
``matmul``, ``bmm``, ``einsum``) — the model-zoo convention. BatchNorm, activations, pooling and
interpolation are NOT counted (BN would add about 3.5% for X3D). ``params`` counts the parameters of
the active sub-network (the slice each slim layer uses at that width).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.nn import FlopCountAnalysis

from ..config.subnet import SubnetConfig
from ..slim import active_num_params, width as at_width
from .space import SubnetSpace

COUNTED_OPS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


def count_gflops(model: nn.Module, inputs) -> float:
    """Conv + linear GFLOPs of one forward of ``model`` on ``inputs`` (batch 1 expected)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(model, (inputs,))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = analysis.by_operator()
    finally:
        model.train(was_training)
    return sum(v for k, v in by_op.items() if k in COUNTED_OPS) / 1e9


def model_stats(
    model: nn.Module,
    cfg: CfgNode,
    width: Optional[float] = None,
    frames: Optional[int] = None,
    crop: Optional[int] = None,
) -> Dict[str, float]:
    """``{"gflops": per view, "params": active parameters}`` of ``model`` at a config.

    Unset arguments default to the full config (max width, DATA.NUM_FRAMES — the Slow pathway's
    frames for SlowFast — and DATA.TRAIN_CROP_SIZE).
    """
    space = SubnetSpace(cfg)
    full = space.full
    sub = SubnetConfig(
        full.width if width is None else width,
        full.crop if crop is None else crop,
        full.frames if frames is None else frames,
    )
    with at_width(model, sub.width):
        gflops = count_gflops(model, space.dummy_input(sub))
    return {"gflops": gflops, "params": active_num_params(model, sub.width)}
