"""slim/onednn.py: the depthwise conv with a backward made of forward convs and the pointwise conv as
matrix products compute PyTorch's own forward and gradients, are used exactly where they should be
(training on CPU; never in inference, which stays bit-identical), and the primitive cache is enlarged."""
import copy
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet_video.budget import SubnetSpace
from mutualnet_video.config import load_config
from mutualnet_video.engine import ConfigSampler, build_optimizer, label_loss, mutual_step
from mutualnet_video.models import build_model
from mutualnet_video.slim import SlimConv3d, set_width
from mutualnet_video.slim import layers as slim_layers
from mutualnet_video.slim.onednn import PRIMITIVE_CACHE_CAPACITY, conv3d

FAST = "_DepthwiseConv3dBackward"  # the grad_fn of the fast depthwise path
POINTWISE = "_PointwiseConv3dBackward"  # the grad_fn of the pointwise path

# (input shape, kernel, stride, padding): X3D's channel-wise 3x3x3 (strided and not) and its stem's temporal
# conv; then strides in every dimension, input rows past the last window (odd sizes), a stride larger
# than the kernel, and no padding
DEPTHWISE = [((2, 6, 4, 9, 9), (3, 3, 3), (1, 2, 2), (1, 1, 1)),
             ((2, 6, 4, 5, 5), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
             ((2, 4, 6, 7, 7), (5, 1, 1), (1, 1, 1), (2, 0, 0)),
             ((2, 4, 7, 8, 5), (3, 3, 3), (2, 2, 2), (1, 1, 1)),
             ((2, 4, 6, 6, 7), (1, 3, 3), (2, 3, 2), (0, 1, 0))]


def _both(x, w, b, stride, padding, groups):
    """(output, grads of x, w[, b]) of ``conv3d`` and of ``F.conv3d``, on the same conv and upstream gradient."""
    results = []
    for fn in (conv3d, F.conv3d):
        leaves = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
        y = fn(leaves[0], leaves[1], leaves[2] if b is not None else None, stride, padding, (1, 1, 1), groups)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape))
        results.append((y, [t.grad for t in leaves]))
    return results


@pytest.mark.parametrize("x_shape, kernel, stride, padding", DEPTHWISE)
@pytest.mark.parametrize("bias", [False, True])
def test_depthwise_conv3d_has_pytorchs_forward_and_gradients(x_shape, kernel, stride, padding, bias):
    torch.manual_seed(0)
    channels = x_shape[1]
    x, w = torch.randn(x_shape), torch.randn((channels, 1, *kernel))
    b = torch.randn(channels) if bias else None
    (y, grads), (y_ref, grads_ref) = _both(x, w, b, stride, padding, channels)
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
    two_filters = torch.randn(8, 1, 3, 3, 3)  # 2 filters a channel
    assert type(conv3d(x, two_filters, None, 1, pad, 1, 4).grad_fn).__name__ != FAST
    assert type(conv3d(x, depthwise, None, 1, pad, 2, 4).grad_fn).__name__ != FAST  # dilated
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
    assert "Depthwise" not in str(traced.graph) and "aten::_convolution" in str(traced.graph)


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


# (input shape, C_out): X3D's expansion / projection convs, and a squeeze-excitation conv on a pooled clip
POINTWISE_SHAPES = [((2, 6, 4, 5, 5), 9), ((3, 8, 2, 3, 4), 5), ((2, 6, 1, 1, 1), 3)]


@pytest.mark.parametrize("x_shape, c_out", POINTWISE_SHAPES)
@pytest.mark.parametrize("bias", [False, True])
def test_pointwise_conv3d_has_pytorchs_forward_and_gradients(x_shape, c_out, bias):
    torch.manual_seed(0)
    x, w = torch.randn(x_shape), torch.randn(c_out, x_shape[1], 1, 1, 1)
    b = torch.randn(c_out) if bias else None
    (y, grads), (y_ref, grads_ref) = _both(x, w, b, (1, 1, 1), (0, 0, 0), 1)
    assert type(y.grad_fn).__name__ == POINTWISE and type(y_ref.grad_fn).__name__ != POINTWISE
    assert y.shape == y_ref.shape and y.is_contiguous()
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)  # a matrix product sums in another order
    for g, g_ref in zip(grads, grads_ref):
        assert g.shape == g_ref.shape and g.is_contiguous()
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


def test_pointwise_backward_passes_gradcheck():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 1, 1, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: conv3d(x, w, b, 1, 0, 1, 1), (x, w, b))


def test_only_unstrided_pointwise_convs_in_training_are_matrix_products():
    x = torch.randn(2, 4, 4, 6, 6, requires_grad=True)
    pointwise, spatial = torch.randn(8, 4, 1, 1, 1), torch.randn(8, 4, 1, 3, 3)
    assert type(conv3d(x, pointwise, None, 1, 0, 1, 1).grad_fn).__name__ == POINTWISE
    assert type(conv3d(x, pointwise, None, (1, 1, 1), [0, 0, 0], 1, 1).grad_fn).__name__ == POINTWISE
    assert type(conv3d(x, pointwise, None, (1, 2, 2), 0, 1, 1).grad_fn).__name__ != POINTWISE  # a ResNet shortcut
    assert type(conv3d(x, pointwise, None, 1, (0, 1, 1), 1, 1).grad_fn).__name__ != POINTWISE  # padded
    assert type(conv3d(x, pointwise, None, 1, "same", 1, 1).grad_fn).__name__ != POINTWISE
    assert type(conv3d(x, spatial, None, 1, (0, 1, 1), 1, 1).grad_fn).__name__ != POINTWISE
    assert type(conv3d(x, torch.randn(8, 2, 1, 1, 1), None, 1, 0, 1, 2).grad_fn).__name__ != POINTWISE  # grouped
    with torch.no_grad():  # inference: PyTorch's own kernel, bit for bit
        assert torch.equal(conv3d(x, pointwise, None, 1, 0, 1, 1), F.conv3d(x, pointwise, None, 1, 0, 1, 1))
    traced = torch.jit.trace(lambda t: conv3d(t, pointwise, None, 1, 0, 1, 1), (x,))
    assert "Pointwise" not in str(traced.graph) and "aten::_convolution" in str(traced.graph)


def _activation_copies(fn, x, *params):
    """The copies (``aten::copy_``) of at least ``x.numel()`` elements that ``fn(x, *params)`` forward and
    backward make outside PyTorch's convolution kernels (which copy inside, whoever calls them),
    x and params requiring gradients as in training."""
    leaves = [t.clone().requires_grad_() for t in (x, *params)]
    with torch.profiler.profile(record_shapes=True) as prof:
        y = fn(*leaves)
        y.backward(torch.ones_like(y))  # a contiguous upstream gradient, as in a network

    def in_conv_kernel(event):
        while event is not None and event.name != "aten::convolution":
            event = event.cpu_parent
        return event is not None

    return [e.input_shapes for e in prof.events() if e.name == "aten::copy_" and e.input_shapes
            and math.prod(e.input_shapes[0]) >= x.numel() and not in_conv_kernel(e)]


def test_unstrided_pointwise_and_depthwise_training_convs_copy_no_activations():
    # torch.matmul folds the clips into one matrix product when the weight requires gradients: two
    # copies of the activations per product; and the depthwise weight gradient needs no padded copy
    x = torch.randn(4, 6, 4, 6, 6)
    pointwise, depthwise = torch.randn(8, 6, 1, 1, 1), torch.randn(6, 1, 3, 3, 3)
    assert _activation_copies(lambda t, w: conv3d(t, w, None, 1, 0, 1, 1), x, pointwise) == []
    assert _activation_copies(lambda t, w: conv3d(t, w, None, 1, 1, 1, 6), x, depthwise) == []
    # the check sees copies where there are some: PyTorch's matmul with a weight requiring gradients
    assert _activation_copies(lambda t, w: torch.matmul(w.reshape(8, 6), t.reshape(4, 6, -1)), x, pointwise)


@pytest.mark.parametrize("w", [0.5, 1.0])
def test_slim_pointwise_conv_trains_like_a_plain_conv_and_infers_bit_identically(w):
    torch.manual_seed(0)
    dense = nn.Conv3d(16, 24, 1, bias=True)
    slim = SlimConv3d.from_dense(dense, divisor=8, width_range=(0.5, 1.0))
    set_width(slim, w)
    n_in, n_out = slim.active_shape()
    plain = nn.Conv3d(n_in, n_out, 1, bias=True)
    plain.weight.data = dense.weight[:n_out, :n_in].detach().clone()
    plain.bias.data = dense.bias[:n_out].detach().clone()
    x = torch.randn(2, n_in, 3, 6, 6)
    y, y_ref = slim(x), plain(x)
    assert type(y.grad_fn).__name__ == POINTWISE
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(slim.weight.grad[:n_out, :n_in], plain.weight.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(slim.bias.grad[:n_out], plain.bias.grad, rtol=1e-5, atol=1e-5)
    if w < 1.0:
        assert not slim.weight.grad[n_out:].any() and not slim.weight.grad[:, n_in:].any()
    with torch.no_grad():
        assert torch.equal(slim(x), plain(x))


def test_a_mutual_step_has_pytorchs_gradients_over_the_whole_model(monkeypatch):
    """One mutual-learning step of the demo model (4 configs, KL and label losses): every parameter's
    gradient with the package's kernels equals the one with PyTorch's own ``F.conv3d`` to float rounding."""
    demo = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "demo", "X3D_DEMO.yaml")
    cfg = load_config(demo, ["DATA.TRAIN_CROP_SIZE", "32", "MUTUALNET.CROP_SIZES", "[32, 24]",
                                                     "MODEL.DROPOUT_RATE", "0.0"])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    sampler = ConfigSampler(cfg)
    clip = SubnetSpace(cfg).dummy_input(sampler.full, 4)
    labels = torch.arange(4)
    grads = {}
    for name, kernel in (("ours", conv3d), ("pytorch", F.conv3d)):
        monkeypatch.setattr(slim_layers, "conv3d", kernel)
        trained = copy.deepcopy(model)
        optimizer = build_optimizer(trained, cfg)
        monkeypatch.setattr(optimizer, "step", lambda *a, **k: None)  # keep the gradients, not the update
        mutual_step(trained, clip, labels, sampler.sample(3), optimizer, label_loss(cfg.MODEL.LOSS_FUNC))
        grads[name] = {n: p.grad for n, p in trained.named_parameters() if p.grad is not None}
    assert grads["ours"].keys() == grads["pytorch"].keys() and len(grads["ours"]) > 50
    for n, g in grads["ours"].items():
        ref = grads["pytorch"][n]
        assert (g - ref).norm() <= 1e-2 * ref.norm() + 1e-6, n
