"""Deriving a sub-network's input from the full clip, so no clip is decoded twice.

Temporal: ``frames`` frames picked uniformly over the SAME time span as the full clip.
Spatial: the whole (already augmented) crop is resized bilinearly to ``crop`` x ``crop``
(MutualNet: every resolution is a downscale of the same crop).
"""
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F

from ..config.subnet import SubnetConfig

Inputs = Union[torch.Tensor, List[torch.Tensor]]


def temporal_subsample(x: torch.Tensor, frames: int, dim: int = 2) -> torch.Tensor:
    """``frames`` frames of ``x`` at ``linspace(0, T - 1, frames)`` along ``dim`` (the span is kept)."""
    t = x.shape[dim]
    if frames == t:
        return x
    index = torch.linspace(0, t - 1, frames, device=x.device).round().long()
    return x.index_select(dim, index)


def spatial_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(N, C, T, H, W)`` frames to ``size`` x ``size`` (bilinear, antialiased)."""
    n, c, t, h, w = x.shape
    if (h, w) == (size, size):
        return x
    frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
    frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return frames.reshape(n, t, c, size, size).permute(0, 2, 1, 3, 4).contiguous()


def derive_input(inputs: Inputs, sub: SubnetConfig, reduce_pathways: Sequence[int] = (0,)) -> Inputs:
    """The input of sub-network ``sub`` derived from a full batch.

    Args:
        inputs: ``(N, C, T, H, W)`` for single-pathway models, or ``[slow, fast]`` for SlowFast.
        sub: the sub-network config; ``sub.frames`` counts the Slow pathway's frames for SlowFast.
        reduce_pathways: SlowFast pathways that get the reduced input (the others stay full).
            The Fast pathway, when reduced, keeps its frame ratio to the Slow pathway.
    Returns:
        the same structure, at ``sub.frames`` x ``sub.crop`` x ``sub.crop``.
    """
    if isinstance(inputs, torch.Tensor):
        return spatial_resize(temporal_subsample(inputs, sub.frames), sub.crop)
    slow_t = inputs[0].shape[2]
    out = []
    for p, x in enumerate(inputs):
        if p in reduce_pathways:
            frames = sub.frames * x.shape[2] // slow_t  # alpha * frames for the Fast pathway
            x = spatial_resize(temporal_subsample(x, frames), sub.crop)
        out.append(x)
    return out
