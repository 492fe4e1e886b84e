"""Two costs of oneDNN (PyTorch's CPU convolution library) that slimmable training hits, and their fixes.

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
   gradients agree with PyTorch's to float rounding (the kernels sum in another order). Everything else
   (dense and grouped convs with several input channels per group, CUDA, inference, CPU autocast,
   tracing for export) is plain ``F.conv3d``.
On the demo model (batch 16, 2 threads, new configs every step) a mutual-learning step took 566 ms
before, 431 ms with (2) alone, 399 ms with (1) alone and 314 ms with both, for 145 MiB more resident
memory (``bench/bench_depthwise.py``, ``bench/results_depthwise.json``).
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


def is_depthwise(weight: torch.Tensor, groups: int) -> bool:
    """One input channel per filter, in more than one group (weight: (C_out, C_in / groups, k...))."""
    return groups > 1 and weight.shape[1] == 1


def conv3d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: Sequence[int],
           padding: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    """``F.conv3d(x, weight, bias, stride, padding, dilation, groups)`` (x: (N, C_in, T, H, W) ->
    (N, C_out, T', H', W')), with the fast backward above for a depthwise conv on CPU in training."""
    if (not torch.jit.is_scripting() and not torch.jit.is_tracing() and torch.is_grad_enabled()
            and (x.requires_grad or weight.requires_grad) and x.device.type == "cpu"
            and not torch.is_autocast_enabled("cpu")  # autocast casts inside F.conv3d: its backward knows how
            and is_depthwise(weight, groups) and not isinstance(padding, str)):
        return _ChannelsLastBackwardConv3d.apply(x, weight, bias, stride, padding, dilation, groups)
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)
