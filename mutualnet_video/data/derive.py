"""Deriving a sub-network's input from the full clip, so no clip is decoded twice.

Temporal: ``frames`` frames over the SAME time span as the full clip, one at the centre of each of
``frames`` equal segments: a constant stride whenever the frame counts divide (8 -> 4 takes frames
1, 3, 5, 7; ``linspace(0, 7, 4)`` would take 0, 2, 5, 7, so motion would seem to change speed).
Spatial: the whole (already augmented) crop is resized bilinearly to ``crop`` x ``crop``
(MutualNet: every resolution is a downscale of the same crop).
"""
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F

from ..config.subnet import SubnetConfig

Inputs = Union[torch.Tensor, List[torch.Tensor]]


def segment_centres(t: int, frames: int) -> torch.Tensor:
    """Indices of ``frames`` of ``t`` frames: the centre frame of each of ``frames`` equal segments."""
    return ((torch.arange(frames) * 2 + 1) * t // (2 * frames)).long()


def temporal_subsample(x: torch.Tensor, frames: int, dim: int = 2) -> torch.Tensor:
    """``frames`` frames of ``x`` along ``dim`` at :func:`segment_centres` (the span is kept)."""
    t = x.shape[dim]
    if frames == t:
        return x
    return x.index_select(dim, segment_centres(t, frames).to(x.device))


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
