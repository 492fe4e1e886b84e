"""``extract_subnet``: the plain network of one width, cut out of a slimmable model.

Every slim layer becomes the ordinary ``nn.Conv3d`` / ``nn.BatchNorm3d`` / ``nn.Linear`` of its
active size, holding a copy of the active slice of the weights (and BN statistics). The result has
no width switch, computes the same function as the slimmable model at that width, and is what a
deployment (TorchScript, ONNX) or a static baseline is built from.
"""
import copy

import torch
import torch.nn as nn

from ..slim import SlimBatchNorm3d, SlimConv3d, SlimLinear, SlimMixin, set_width
from ..slim.layers import take_channels


def _param(tensor: torch.Tensor, like: nn.Parameter) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone(), requires_grad=like.requires_grad)


def _plain_conv(layer: SlimConv3d) -> nn.Conv3d:
    in_sel, out_sel = layer.selections()
    (n_in, n_out), groups = layer.active_shape(), layer.active_groups()
    conv = nn.Conv3d(n_in, n_out, layer.kernel_size, stride=layer.stride, padding=layer.padding,
                     dilation=layer.dilation, groups=groups, bias=layer.bias is not None, device="meta")
    weight = take_channels(layer.weight, 0, out_sel)
    conv.weight = _param(weight if layer.groups > 1 else take_channels(weight, 1, in_sel), layer.weight)
    if layer.bias is not None:
        conv.bias = _param(take_channels(layer.bias, 0, out_sel), layer.bias)
    return conv


def _plain_bn(layer: SlimBatchNorm3d) -> nn.BatchNorm3d:
    _, sel = layer.selections()
    bn = nn.BatchNorm3d(layer.active_shape()[1], eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                        track_running_stats=layer.track_running_stats)
    for name, p in layer.named_parameters(recurse=False):
        setattr(bn, name, _param(take_channels(p, 0, sel), p))
    for name, b in layer.named_buffers(recurse=False):
        setattr(bn, name, b.clone() if b.dim() == 0 else take_channels(b, 0, sel).clone())
    return bn


def _plain_linear(layer: SlimLinear) -> nn.Linear:
    in_sel, out_sel = layer.selections()
    n_in, n_out = layer.active_shape()
    linear = nn.Linear(n_in, n_out, bias=layer.bias is not None, device="meta")
    linear.weight = _param(take_channels(take_channels(layer.weight, 0, out_sel), 1, in_sel), layer.weight)
    if layer.bias is not None:
        linear.bias = _param(take_channels(layer.bias, 0, out_sel), layer.bias)
    return linear


_PLAIN = {SlimConv3d: _plain_conv, SlimBatchNorm3d: _plain_bn, SlimLinear: _plain_linear}


def extract_subnet(model: nn.Module, width: float) -> nn.Module:
    """A copy of the slimmable ``model`` at ``width`` with every slim layer replaced by the plain
    layer of its active size. ``model`` itself is not changed; the copy keeps its train/eval mode.

    Input and output are those of ``model`` at that width: ``(N, 3, T, H, W)`` (or ``[slow, fast]``)
    -> logits ``(N, NUM_CLASSES)``.
    """
    sub = copy.deepcopy(model)
    set_width(sub, width)
    for parent in list(sub.modules()):
        for name, child in parent.named_children():
            if isinstance(child, SlimMixin):
                plain = _PLAIN[type(child)](child)
                plain.train(child.training)
                setattr(parent, name, plain)
    return sub
