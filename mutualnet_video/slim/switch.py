"""Switching a slimmable model's width: ``set_width(model, w)`` and ``with width(model, w): ...``."""
import contextlib
from typing import Iterator

import torch.nn as nn

from .layers import SlimMixin


def slim_layers(model: nn.Module) -> Iterator[SlimMixin]:
    return (m for m in model.modules() if isinstance(m, SlimMixin))


def width_range(model: nn.Module):
    """The [min, max] width the model was made slimmable for."""
    for layer in slim_layers(model):
        return layer.width_range
    raise ValueError("model has no slimmable layers: build it with mutualnet_video.models.build_model")


def get_width(model: nn.Module) -> float:
    for layer in slim_layers(model):
        return layer.width
    raise ValueError("model has no slimmable layers: build it with mutualnet_video.models.build_model")


def set_width(model: nn.Module, w: float) -> None:
    """Make every slim layer of ``model`` compute at width ``w`` (within the trained range)."""
    lo, hi = width_range(model)
    w = float(w)
    if not lo - 1e-9 <= w <= hi + 1e-9:
        raise ValueError(f"width {w} is outside the model's trained width range [{lo}, {hi}]")
    for layer in slim_layers(model):
        layer.switch(w)


@contextlib.contextmanager
def width(model: nn.Module, w: float):
    """Run a block at width ``w``; the previous width is restored afterwards."""
    previous = get_width(model)
    set_width(model, w)
    try:
        yield model
    finally:
        set_width(model, previous)


def active_num_params(model: nn.Module, w: float) -> int:
    """Parameters used by the sub-network at width ``w`` (slim layers count their active slice)."""
    total = 0
    for module in model.modules():
        if isinstance(module, SlimMixin):
            total += module.active_num_params(w)
        else:
            total += sum(p.numel() for p in module.parameters(recurse=False))
    return total
