"""slim/onednn.py: the depthwise conv with a channels-last CPU backward computes PyTorch's own
forward and gradients, is used exactly where it should be, and the primitive cache is enlarged."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet_video.slim import SlimConv3d, set_width
from mutualnet_video.slim.onednn import PRIMITIVE_CACHE_CAPACITY, conv3d

FAST = "_ChannelsLastBackwardConv3dBackward"  # the grad_fn of the fast path

# (input shape, kernel, stride, padding): X3D's channel-wise 3x3x3 (strided and not) and its stem's temporal conv
DEPTHWISE = [((2, 6, 4, 9, 9), (3, 3, 3), (1, 2, 2), (1, 1, 1)),
             ((2, 6, 4, 5, 5), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
             ((2, 4, 6, 7, 7), (5, 1, 1), (1, 1, 1), (2, 0, 0))]


def _both(x_shape, kernel, stride, padding, bias, dtype=torch.float32):
    """(output, grads) of ``conv3d`` and of ``F.conv3d`` on the same depthwise conv and upstream gradient."""
    torch.manual_seed(0)
    channels = x_shape[1]
    x = torch.randn(x_shape, dtype=dtype)
    w = torch.randn((channels, 1, *kernel), dtype=dtype)
    b = torch.randn(channels, dtype=dtype) if bias else None
    results = []
    for fn in (conv3d, F.conv3d):
        leaves = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
        y = fn(leaves[0], leaves[1], leaves[2] if bias else None, stride, padding, (1, 1, 1), channels)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=dtype).reshape(y.shape))
        results.append((y, [t.grad for t in leaves]))
    return results


@pytest.mark.parametrize("x_shape, kernel, stride, padding", DEPTHWISE)
@pytest.mark.parametrize("bias", [False, True])
def test_depthwise_conv3d_has_pytorchs_forward_and_gradients(x_shape, kernel, stride, padding, bias):
    (y, grads), (y_ref, grads_ref) = _both(x_shape, kernel, stride, padding, bias)
    assert type(y.grad_fn).__name__ == FAST and type(y_ref.grad_fn).__name__ != FAST
    assert torch.equal(y, y_ref)  # the forward is F.conv3d itself
    for g, g_ref in zip(grads, grads_ref):
        assert g.shape == g_ref.shape and g.is_contiguous()
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x_shape, kernel, stride, padding", DEPTHWISE[:1] + DEPTHWISE[2:])
def test_depthwise_backward_passes_gradcheck(x_shape, kernel, stride, padding):
    torch.manual_seed(0)
    channels = 3
    x = torch.randn((1, channels, *x_shape[2:]), dtype=torch.float64, requires_grad=True)
    w = torch.randn((channels, 1, *kernel), dtype=torch.float64, requires_grad=True)
    b = torch.randn(channels, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv3d(x, w, b, stride, padding, (1, 1, 1), channels), (x, w, b))


def test_only_depthwise_convs_in_training_take_the_fast_path():
    x, pad = torch.randn(2, 4, 4, 6, 6, requires_grad=True), (1, 1, 1)
    depthwise, dense, grouped = torch.randn(4, 1, 3, 3, 3), torch.randn(8, 4, 3, 3, 3), torch.randn(4, 2, 3, 3, 3)
    assert type(conv3d(x, depthwise, None, 1, pad, 1, 4).grad_fn).__name__ == FAST
    assert type(conv3d(x, dense, None, 1, pad, 1, 1).grad_fn).__name__ != FAST
    assert type(conv3d(x, grouped, None, 1, pad, 1, 2).grad_fn).__name__ != FAST  # 2 input channels a group
    assert conv3d(x.detach(), depthwise, None, 1, pad, 1, 4).grad_fn is None  # nothing to train
    with torch.no_grad():
        assert conv3d(x, depthwise, None, 1, pad, 1, 4).grad_fn is None
    w = depthwise.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision on a CPU (TRAIN.MIXED_PRECISION)
        y = conv3d(x, w, None, 1, pad, 1, 4)
    assert type(y.grad_fn).__name__ != FAST and y.dtype == torch.bfloat16
    y.float().sum().backward()  # PyTorch's own backward casts the gradients back
    assert x.grad.dtype == w.grad.dtype == torch.float32
    traced = torch.jit.trace(lambda t: conv3d(t, depthwise, None, 1, pad, 1, 4), (x,))
    assert "ChannelsLast" not in str(traced.graph) and "aten::_convolution" in str(traced.graph)


@pytest.mark.parametrize("w", [0.5, 1.0])
def test_slim_depthwise_conv_trains_like_a_plain_conv(w):
    """At a reduced width and at width 1.0 (nn.Conv3d's own forward), SlimConv3d's depthwise conv
    takes the fast backward and its gradients match a plain conv of the active channels."""
    torch.manual_seed(0)
    dense = nn.Conv3d(16, 16, (3, 3, 3), stride=(1, 2, 2), padding=1, groups=16, bias=False)
    slim = SlimConv3d.from_dense(dense, divisor=8, width_range=(0.5, 1.0))
    set_width(slim, w)
    n = slim.active_shape()[1]
    plain = nn.Conv3d(n, n, (3, 3, 3), stride=(1, 2, 2), padding=1, groups=n, bias=False)
    plain.weight.data = dense.weight[:n].detach().clone()
    x = torch.randn(2, n, 4, 8, 8)
    y, y_ref = slim(x), plain(x)
    assert type(y.grad_fn).__name__ == FAST
    assert torch.equal(y, y_ref)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(slim.weight.grad[:n], plain.weight.grad, rtol=1e-5, atol=1e-5)
    if n < 16:
        assert not slim.weight.grad[n:].any()  # inactive filters get no gradient


@pytest.mark.parametrize("preset", [None, "77"])
def test_importing_slim_enlarges_the_primitive_cache_unless_set(preset):
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if preset is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = preset
    code = "import os, mutualnet_video.slim; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == (preset or str(PRIMITIVE_CACHE_CAPACITY))
