"""Three costs of oneDNN (PyTorch's CPU convolution library) that slimmable training hits, and their fixes.

1. The primitive cache. oneDNN compiles one kernel ("primitive") per convolution shape and keeps the
   last 1024 (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``). A slimmable network trained by mutual learning runs
   every conv at many shapes (random widths x crops x frame counts, forward and two backward kernels
   each), so with 1024 the cache thrashes and kernels are compiled again and again. Importing
   ``mutualnet_video.slim`` sets the capacity to ``PRIMITIVE_CACHE_CAPACITY`` unless the environment
   already sets it; oneDNN reads it at its first convolution, so a process that ran one before
   importing ``mutualnet_video`` keeps the default.
2. The depthwise backward. A depthwise 3D convolution (one input channel per filter: X3D's
   channel-wise 3x3x3, its stem's temporal conv) is cheap forward, but its CPU backward on contiguous
   (N, C, T, H, W) tensors is not: on the demo model it was 54% of a mutual-learning step, against 4%
   for the depthwise forwards (``bench/bench_step_profile.py``). The same backward on
   ``torch.channels_last_3d`` copies of the gradient and the input, with the input gradient copied
   back, makes forward + backward 1.4-3.8x faster on every depthwise layer of the demo model. So
   ``conv3d`` does that on CPU with gradients on; its forward is ``F.conv3d`` unchanged, and its
   gradients agree with PyTorch's to float rounding (the kernels sum in another order).
3. The pointwise convs. A 1x1x1 convolution (stride 1, one group: X3D's expansion and projection
   convs, its head's conv, the squeeze-excitation convs) is a matrix product of the weight with every
   clip's (C_in, T*H*W) matrix. After (2), oneDNN's forward and backward of these convs were the
   largest cost of a step; as ``torch.matmul`` / ``torch.bmm`` on the same contiguous tensors (no
   copies) a mutual-learning step of the demo model is 11% faster. Unlike (2), this changes the
   forward's rounding too, so it is taken only where gradients are computed: inference, BN
   calibration, the grid evaluation and export run ``F.conv3d`` and give bit-identical outputs.
Everything else (dense convs with larger kernels or strides, grouped convs with several input channels
per group, CUDA, inference, CPU autocast, tracing for export) is plain ``F.conv3d``.
On the demo model (batch 16, 2 threads, new configs every step, the variants interleaved in one
process) a mutual-learning step took 463 ms with PyTorch's kernels, 297 ms with (2) and 265 ms with (2)
and (3); with (2) and (3), 265-279 ms with oneDNN's default cache and 218-245 ms with (1), in fresh
processes (``bench/bench_cpu_kernels.py``, ``bench/results_cpu_kernels.json``).
"""
import os
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

PRIMITIVE_CACHE_CAPACITY = 16384  # 4096 still thrashed on the demo model (350 ms a step); 65536 gained nothing
_CHANNELS_LAST = torch.channels_last_3d


def enlarge_primitive_cache(capacity: int = PRIMITIVE_CACHE_CAPACITY) -> None:
    """Set ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` to ``capacity`` unless the environment sets it already."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


enlarge_primitive_cache()  # on import (``slim.layers`` imports this): before the process's first convolution


class _ChannelsLastBackwardConv3d(torch.autograd.Function):
    """``F.conv3d`` forward; backward by ``aten.convolution_backward`` on channels-last copies."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        ctx.settings = (stride, padding, dilation, groups, None if bias is None else [bias.shape[0]])
        return F.conv3d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        # grad: (N, C_out, T', H', W'), the same shape as the forward's output
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups, bias_sizes = ctx.settings
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad.contiguous(memory_format=_CHANNELS_LAST), x.contiguous(memory_format=_CHANNELS_LAST), weight,
            bias_sizes, stride, padding, dilation, False, [0, 0, 0], groups, list(ctx.needs_input_grad[:3]))
        if grad_x is not None:
            grad_x = grad_x.contiguous()  # what the layers before expect, as PyTorch's own backward gives
        return grad_x, grad_w, grad_b, None, None, None, None


class _PointwiseConv3d(torch.autograd.Function):
    """A 1x1x1 convolution with stride 1 and one group as batched matrix products, forward and backward."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        n, c, t, h, w = x.shape
        x3 = x.reshape(n, c, t * h * w)  # (N, C_in, L): a view of a contiguous x
        w2 = weight.reshape(weight.shape[0], c)  # (C_out, C_in)
        y = torch.matmul(w2, x3)  # (N, C_out, L)
        if bias is not None:
            y += bias[:, None]
        ctx.save_for_backward(x3, w2)
        ctx.shapes = (x.shape, weight.shape)
        return y.view(n, -1, t, h, w)  # (N, C_out, T, H, W)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        # grad: (N, C_out, T, H, W)
        x3, w2 = ctx.saved_tensors
        x_shape, w_shape = ctx.shapes
        g3 = grad.reshape(grad.shape[0], grad.shape[1], -1)  # (N, C_out, L)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.matmul(w2.t(), g3).view(x_shape)  # (N, C_in, L) -> (N, C_in, T, H, W)
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(g3, x3.transpose(1, 2)).sum(0).view(w_shape)  # sum over clips of (C_out, C_in)
        if ctx.needs_input_grad[2]:
            grad_b = g3.sum((0, 2))
        return grad_x, grad_w, grad_b


def is_depthwise(weight: torch.Tensor, groups: int) -> bool:
    """One input channel per filter, in more than one group (weight: (C_out, C_in / groups, k...))."""
    return groups > 1 and weight.shape[1] == 1


def is_pointwise(weight: torch.Tensor, stride, padding, groups: int) -> bool:
    """A 1x1x1 kernel over all input channels, stride 1, no padding: a matrix product per clip."""
    return (groups == 1 and tuple(weight.shape[2:]) == (1, 1, 1) and _triple(stride) == (1, 1, 1)
            and not isinstance(padding, str) and _triple(padding) == (0, 0, 0))


def _triple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * 3


def conv3d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: Sequence[int],
           padding: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    """``F.conv3d(x, weight, bias, stride, padding, dilation, groups)`` (x: (N, C_in, T, H, W) ->
    (N, C_out, T', H', W')), with the fast kernels above for depthwise and pointwise convs on CPU in
    training."""
    if (not torch.jit.is_scripting() and not torch.jit.is_tracing() and torch.is_grad_enabled()
            and (x.requires_grad or weight.requires_grad) and x.device.type == "cpu"
            and not torch.is_autocast_enabled("cpu")):  # autocast casts inside F.conv3d: its backward knows how
        if is_depthwise(weight, groups) and not isinstance(padding, str):
            return _ChannelsLastBackwardConv3d.apply(x, weight, bias, stride, padding, dilation, groups)
        if is_pointwise(weight, stride, padding, groups) and x.dim() == 5:
            return _PointwiseConv3d.apply(x, weight, bias)
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)
