"""The generic retrofit pass: turn a pytorchvideo model into a slimmable one, in place.

- Conv3d / BatchNorm3d / Linear -> their slim versions (same parameter names and tensors);
- pytorchvideo's custom-autograd ``Swish`` -> ``nn.SiLU`` (numerically the same, exportable);
- fixed-kernel ``AvgPool3d`` (only heads use it) -> ``AdaptiveAvgPool3d(1)``, so the model runs at
  any frame count and crop;
- the head's activation is removed: the model returns logits (softmax only where scores are wanted);
- residual branches' last BatchNorm starts at scale 0 or 1 as ``RESNET.ZERO_INIT_FINAL_BN`` says.

Architecture modules then say which channel runs never shrink (RGB input, class output, unslimmed
pathways) and where inputs are concatenations (see ``slim.rule``).
"""
from typing import Sequence

import torch.nn as nn
from pytorchvideo.layers.swish import Swish
from pytorchvideo.models.head import ResNetBasicHead

from ..slim import SLIM_LAYERS, Segment, SlimMixin


def _replace_children(module: nn.Module, divisor: int, width_range: Sequence[float]) -> None:
    for name, child in module.named_children():
        if type(child) in SLIM_LAYERS:
            setattr(module, name, SLIM_LAYERS[type(child)].from_dense(child, divisor, width_range))
        elif isinstance(child, Swish):
            setattr(module, name, nn.SiLU())
        elif isinstance(child, nn.AvgPool3d):
            setattr(module, name, nn.AdaptiveAvgPool3d(1))
        else:
            _replace_children(child, divisor, width_range)


def retrofit(model: nn.Module, *, divisor: int = 8, width_range: Sequence[float] = (0.25, 1.0),
             zero_init_final_bn: bool = True) -> nn.Module:
    """Convert ``model`` in place into a slimmable model returning logits; returns it.

    ``zero_init_final_bn`` (``RESNET.ZERO_INIT_FINAL_BN``): whether the last BatchNorm of every residual
    branch (the layers pytorchvideo marks ``block_final_bn``) starts with scale 0 or 1. pytorchvideo
    always zeroes them, so every branch starts switched off and gets no gradient until its scale has
    grown: that suits long large-batch schedules, while a short or small-batch one (SGD especially)
    then trains little more than the shortcut path. PySlowFast zeroes them only when asked.
    """
    for m in model.modules():
        if getattr(m, "block_final_bn", False) and m.weight is not None:
            nn.init.constant_(m.weight, 0.0 if zero_init_final_bn else 1.0)
    _replace_children(model, divisor, width_range)
    for m in model.modules():
        if isinstance(m, ResNetBasicHead):
            m.activation = None
    return model


def fix_input(layer: SlimMixin) -> None:
    """Never shrink ``layer``'s input channels (e.g. the RGB input of a stem conv)."""
    layer.set_specs(in_spec=tuple(Segment(s.channels, False) for s in layer.in_spec))


def fix_output(layer: SlimMixin) -> None:
    """Never shrink ``layer``'s output channels (e.g. the class logits)."""
    layer.set_specs(out_spec=tuple(Segment(s.channels, False) for s in layer.out_spec))


def freeze_width(module: nn.Module) -> None:
    """Never shrink any channel of any slim layer inside ``module`` (an unslimmed pathway)."""
    for layer in module.modules():
        if isinstance(layer, SlimMixin):
            fix_input(layer)
            fix_output(layer)
