"""Three costs of oneDNN (PyTorch's CPU convolution library) that slimmable training hits, and their fixes.

1. The primitive cache. oneDNN compiles one kernel ("primitive") per convolution shape and keeps the
   last 1024 (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``). A slimmable network trained by mutual learning runs
   every conv at many shapes (random widths x crops x frame counts, forward and two backward kernels
   each), so with 1024 the cache thrashes and kernels are compiled again and again. Importing
   ``mutualnet_video.slim`` sets the capacity to ``PRIMITIVE_CACHE_CAPACITY`` unless the environment
   already sets it; oneDNN reads it at its first convolution, so a process that ran one before
   importing ``mutualnet_video`` keeps the default.
2. The depthwise backward. A depthwise 3D convolution (one filter per channel: X3D's channel-wise
   3x3x3, its stem's temporal conv) is cheap forward, but oneDNN's backward of it is not: on the demo
   model it was 54% of a mutual-learning step, against 4% for the depthwise forwards
   (``bench/bench_step_profile.py``), and worst on the small maps of the late stages (batch 16, a 2x2
   or 3x3 map: 9-19 ms, 30-50x the forward, in channels-last memory as in 2199da8; 10-23 ms in PyTorch's
   own layout). Both gradients are forward depthwise convs, which oneDNN runs fast: the input gradient
   is the output gradient (spread to stride 1 with zeros) convolved with the kernel flipped in
   space-time, and the weight gradient is the padded input convolved with the output gradient as a
   kernel, one group per (clip, channel), summed over clips. So ``conv3d`` computes the backward that
   way on CPU with gradients on: 1.6-2.8 ms on those small maps, 2.7x less on the largest; its forward
   is ``F.conv3d`` unchanged, and its gradients agree with PyTorch's to float rounding.
3. The pointwise convs. A 1x1x1 convolution (stride 1, one group: X3D's expansion and projection
   convs, its head's conv, the squeeze-excitation convs) is a matrix product of the weight with every
   clip's (C_in, T*H*W) matrix. After (2), oneDNN's forward and backward of these convs were the
   largest cost of a step; as matrix products a mutual-learning step of the demo model was 11% faster
   (``torch.matmul``), and 7% faster again with ``torch.bmm``, which makes no copies where ``matmul``
   does (``_PointwiseConv3d``). Unlike (2), this changes the
   forward's rounding too, so it is taken only where gradients are computed: inference, BN
   calibration, the grid evaluation and export run ``F.conv3d`` and give bit-identical outputs.
Everything else (dense convs with larger kernels or strides, grouped convs with several input channels
or several filters per group, dilated convs, CUDA, inference, CPU autocast, tracing for export) is plain
``F.conv3d``.
On the demo model (batch 16, 2 threads, new configs every step, the variants interleaved in one
process) a mutual-learning step took 804 ms with PyTorch's kernels, 705 ms with (3) and the depthwise
backward of 2199da8 (oneDNN's own, on channels-last copies) and 451 ms with (2) and (3); in fresh
processes 490-501 ms with oneDNN's default cache and 438-447 ms with (1)
(``bench/bench_cpu_kernels.py``, ``bench/results_cpu_kernels.json``; a 2-core machine of 2026-12-07).
"""
import itertools
import os
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

PRIMITIVE_CACHE_CAPACITY = 16384  # 4096 still thrashed on the demo model (350 ms a step); 65536 gained nothing


def enlarge_primitive_cache(capacity: int = PRIMITIVE_CACHE_CAPACITY) -> None:
    """Set ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` to ``capacity`` unless the environment sets it already."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


enlarge_primitive_cache()  # on import (``slim.layers`` imports this): before the process's first convolution


class _DepthwiseConv3d(torch.autograd.Function):
    """A depthwise conv (one filter per channel, C_out == C_in == groups): ``F.conv3d`` forward, and a
    backward made of two more forward depthwise convs, which oneDNN runs fast where its own depthwise
    backward is slow (worst on the small late-stage maps)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.settings = (stride, padding, bias is not None)
        return F.conv3d(x, weight, bias, stride, padding, 1, weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        # grad: (N, C, T', H', W'), the forward's output shape; x: (N, C, T, H, W); weight: (C, 1, kT, kH, kW)
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.settings
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _depthwise_input_grad(grad, weight, x.shape, stride, padding)
        if ctx.needs_input_grad[1]:
            grad_w = _depthwise_weight_grad(grad, x, weight.shape, stride, padding)
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, 2, 3, 4))
        return grad_x, grad_w, grad_b, None, None


def _depthwise_input_grad(grad, weight, x_shape, stride, padding):
    """The input gradient as a depthwise conv of the output gradient, spread out to stride 1 with zeros
    (and zeros at the end for input rows past the last window), with the kernel flipped in space-time."""
    n, c = grad.shape[:2]
    kernel = weight.shape[2:]
    if any(s > 1 for s in stride):
        # input rows past the last window, (T + 2p - k) mod s per dim: zeros after the spread gradient
        extra = [size + 2 * p - k - s * (g - 1)
                 for size, p, k, s, g in zip(x_shape[2:], padding, kernel, stride, grad.shape[2:])]
        spread = grad.new_zeros(n, c, *[s * (g - 1) + 1 + e for s, g, e in zip(stride, grad.shape[2:], extra)])
        spread[:, :, ::stride[0], ::stride[1], ::stride[2]] = grad
        grad = spread  # (N, C, s(T'-1)+1+e, ...)
    return F.conv3d(grad, weight.flip(2, 3, 4), None, 1, [k - 1 - p for k, p in zip(kernel, padding)], 1, c)


def _depthwise_weight_grad(grad, x, w_shape, stride, padding):
    """The weight gradient as grouped convs: every (clip, channel) of the input convolved with that
    clip's and channel's output gradient as the kernel, summed over clips. Groups in (clip, channel)
    order make both operands views of the contiguous tensors, no copies; an unstrided conv pads
    inside the conv. A strided conv is split into its phases (the padded input's rows
    ``r, r + s, ...`` give the kernel offsets ``r, r + s, ...``), one unstrided conv each: 1.6x
    faster than one conv with a dilated kernel (demo model, strided layers)."""
    n, c = x.shape[:2]
    kernel = w_shape[2:]
    ker = grad.reshape(n * c, 1, *grad.shape[2:])  # (N*C, 1, T', H', W')
    if all(s == 1 for s in stride):
        out = F.conv3d(x.reshape(1, n * c, *x.shape[2:]), ker, None, 1, padding, 1, n * c)  # (1, N*C, kT, kH, kW)
        return out.reshape(n, c, *kernel).sum(0).unsqueeze(1)  # (C, 1, kT, kH, kW)
    pt, ph, pw = padding
    x_pad = F.pad(x, (pw, pw, ph, ph, pt, pt))  # (N, C, T+2p, H+2p, W+2p)
    grad_w = x.new_empty(c, *kernel)
    for r in itertools.product(*[range(min(s, k)) for s, k in zip(stride, kernel)]):
        phase = x_pad[:, :, r[0]::stride[0], r[1]::stride[1], r[2]::stride[2]]
        out = F.conv3d(phase.reshape(1, n * c, *phase.shape[2:]), ker, None, 1, 0, 1, n * c)
        offsets = [len(range(ri, k, s)) for ri, k, s in zip(r, kernel, stride)]  # kernel offsets of this phase
        out = out[:, :, : offsets[0], : offsets[1], : offsets[2]]  # (1, N*C, offsets...)
        grad_w[:, r[0]::stride[0], r[1]::stride[1], r[2]::stride[2]] = out.reshape(n, c, *offsets).sum(0)
    return grad_w.unsqueeze(1)  # (C, 1, kT, kH, kW)


class _PointwiseConv3d(torch.autograd.Function):
    """A 1x1x1 convolution with stride 1 and one group as batched matrix products, forward and backward.

    ``torch.bmm`` with the weight broadcast over the clips, not ``torch.matmul``: when the weight
    requires gradients, ``matmul`` folds the clips into one matrix product, which copies the
    activations into (N*T*H*W, C) and the result back."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        n, c, t, h, w = x.shape
        x3 = x.reshape(n, c, t * h * w)  # (N, C_in, L): a view of a contiguous x
        w2 = weight.reshape(weight.shape[0], c)  # (C_out, C_in)
        y = torch.bmm(w2.expand(n, -1, -1), x3)  # (N, C_out, L)
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
        n = grad.shape[0]
        g3 = grad.reshape(n, grad.shape[1], -1)  # (N, C_out, L)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(w2.t().expand(n, -1, -1), g3).view(x_shape)  # (N, C_in, L) -> (N, C_in, T, H, W)
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(g3, x3.transpose(1, 2)).sum(0).view(w_shape)  # sum over clips of (C_out, C_in)
        if ctx.needs_input_grad[2]:
            grad_b = g3.sum((0, 2))
        return grad_x, grad_w, grad_b


def is_depthwise(weight: torch.Tensor, groups: int) -> bool:
    """One filter per channel, in more than one group (weight: (C, 1, k...) with C == groups)."""
    return groups > 1 and weight.shape[1] == 1 and weight.shape[0] == groups


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
        if is_depthwise(weight, groups) and _triple(dilation) == (1, 1, 1) and not isinstance(padding, str):
            return _DepthwiseConv3d.apply(x, weight, bias, _triple(stride), _triple(padding))
        if is_pointwise(weight, stride, padding, groups) and x.dim() == 5:
            return _PointwiseConv3d.apply(x, weight, bias)
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)
