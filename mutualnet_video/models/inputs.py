"""Input shapes of a model at a sub-network config (what derive_input and the loader produce)."""
from typing import List, Tuple, Union

import torch
from fvcore.common.config import CfgNode

from ..config.subnet import SubnetConfig


def full_subnet(cfg: CfgNode) -> SubnetConfig:
    """The full config: max width, DATA.TRAIN_CROP_SIZE, full frames (Slow-pathway frames for SlowFast)."""
    frames = cfg.DATA.NUM_FRAMES
    if cfg.MODEL.ARCH == "slowfast":
        frames //= cfg.SLOWFAST.ALPHA
    return SubnetConfig(cfg.MUTUALNET.WIDTH_RANGE[1], cfg.DATA.TRAIN_CROP_SIZE, frames)


def input_shapes(cfg: CfgNode, sub: SubnetConfig, batch: int = 1) -> List[Tuple[int, ...]]:
    """``[(N, 3, T, H, W)]`` per pathway for ``sub``. For SlowFast, pathways outside
    ``MUTUALNET.REDUCE_PATHWAYS`` keep the full crop and frame count."""
    if cfg.MODEL.ARCH != "slowfast":
        return [(batch, 3, sub.frames, sub.crop, sub.crop)]
    full = full_subnet(cfg)
    shapes = []
    for p, ratio in enumerate((1, cfg.SLOWFAST.ALPHA)):
        s = sub if p in cfg.MUTUALNET.REDUCE_PATHWAYS else full
        shapes.append((batch, 3, s.frames * ratio, s.crop, s.crop))
    return shapes


def dummy_input(cfg: CfgNode, sub: SubnetConfig, batch: int = 1) -> Union[torch.Tensor, List[torch.Tensor]]:
    """Random model input for ``sub``: a tensor, or ``[slow, fast]`` for SlowFast."""
    tensors = [torch.randn(shape) for shape in input_shapes(cfg, sub, batch)]
    return tensors if cfg.MODEL.ARCH == "slowfast" else tensors[0]
