"""The retrofit: equivalence with pytorchvideo at width 1.0, true sub-networks at width < 1,
adaptive heads, SlowFast pathways and concatenations."""
import pytest
import torch
import torch.nn as nn
from pytorchvideo.layers.swish import Swish
from pytorchvideo.models.resnet import create_resnet
from pytorchvideo.models.slowfast import create_slowfast
from pytorchvideo.models.x3d import create_x3d

from mutualnet_video.config import ConfigError, SubnetConfig
from mutualnet_video.models import build_model
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.models.resnet import slow_kwargs
from mutualnet_video.models.slowfast import slowfast_kwargs
from mutualnet_video.models.x3d import x3d_kwargs
from mutualnet_video.slim import SlimMixin, width

from .model_cfgs import slow_cfg, slowfast_cfg, x3d_cfg

ORIGINALS = {
    "x3d": lambda cfg: create_x3d(**x3d_kwargs(cfg)),
    "slowfast": lambda cfg: create_slowfast(**slowfast_kwargs(cfg)),
    "slow": lambda cfg: create_resnet(**slow_kwargs(cfg)),
}

CASES = {
    # X3D at its published size for XS; reduced clips for the others (same channels and depth).
    "x3d_xs": x3d_cfg("XS"),
    "x3d_s": x3d_cfg("S", frames=4, crop=96),
    "x3d_m": x3d_cfg("M", frames=4, crop=96),
    "x3d_l": x3d_cfg("L", frames=2, crop=64),
    "slowfast_4x16": slowfast_cfg(alpha=8, frames=16, crop=64),
    "slowfast_8x8": slowfast_cfg(alpha=4, frames=8, crop=64),
    "slow_8x8": slow_cfg(frames=4, crop=64),
}


def _pair(cfg):
    torch.manual_seed(0)
    original = ORIGINALS[cfg.MODEL.ARCH](cfg)
    for m in original.modules():  # non-trivial BN statistics, so eval mode is really tested
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    model = build_model(cfg)
    model.load_state_dict(original.state_dict(), strict=True)
    return original.eval(), model.eval()


@pytest.mark.parametrize("name", list(CASES))
def test_width_one_equals_the_pytorchvideo_model(name):
    cfg = CASES[name]
    original, model = _pair(cfg)
    space = SubnetSpace(cfg)
    x = space.dummy_input(space.full, batch=2)
    with torch.no_grad():
        expected = original(list(x) if isinstance(x, list) else x)
        got = model(x)
    assert got.shape == (2, cfg.MODEL.NUM_CLASSES)
    assert (got - expected).abs().max().item() <= 1e-5


def test_state_dict_round_trip_keeps_pytorchvideo_names():
    cfg = CASES["x3d_xs"]
    original, model = _pair(cfg)
    assert list(model.state_dict()) == list(original.state_dict())
    again = build_model(cfg).eval()
    again.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 4, 160, 160)
    with torch.no_grad(), width(model, 0.5), width(again, 0.5):
        assert torch.equal(model(x), again(x))


def _poison_inactive(model, w):
    """Fill every parameter/statistic entry a sub-network at width w must not read with NaN."""
    for layer in model.modules():
        if not isinstance(layer, SlimMixin):
            continue
        in_sel, out_sel = layer.selections(w)
        for name, tensor in list(layer.named_parameters(recurse=False)) + list(layer.named_buffers(recurse=False)):
            if tensor.dim() == 0:
                continue
            keep = torch.zeros_like(tensor, dtype=torch.bool)
            rows = torch.arange(tensor.shape[0]) if isinstance(out_sel, torch.Tensor) else None
            out_idx = out_sel if rows is not None else torch.arange(out_sel)
            if tensor.dim() == 1:
                keep[out_idx] = True
            else:
                in_idx = in_sel if isinstance(in_sel, torch.Tensor) else torch.arange(in_sel)
                if getattr(layer, "groups", 1) > 1:
                    in_idx = torch.arange(tensor.shape[1])
                keep[out_idx.unsqueeze(1), in_idx.unsqueeze(0)] = True
            with torch.no_grad():
                tensor.masked_fill_(~keep, float("nan"))


@pytest.mark.parametrize("name", ["x3d_s", "slowfast_8x8", "slow_8x8"])
@pytest.mark.parametrize("w", [0.25, 0.5])
def test_sub_network_reads_only_its_own_channels(name, w):
    """A true sub-network: NaN in every channel outside width w leaves its output unchanged.
    For SlowFast this checks the per-segment slicing of cat([slow, lateral]) and of the head."""
    cfg = CASES[name]
    _, model = _pair(cfg)
    space = SubnetSpace(cfg)
    sub = SubnetConfig(w, space.full.crop, space.full.frames)
    x = space.dummy_input(sub)
    with torch.no_grad(), width(model, w):
        before = model(x)
        _poison_inactive(model, w)
        after = model(x)
    assert torch.isfinite(before).all()
    torch.testing.assert_close(after, before, rtol=0, atol=0)


@pytest.mark.parametrize("frames,crop", [(4, 112), (13, 160), (16, 224)])
def test_x3d_heads_pool_adaptively(frames, crop):
    cfg = x3d_cfg("XS", num_classes=10)  # built for 4x160
    model = build_model(cfg).eval()
    with torch.no_grad(), width(model, 0.25):
        assert model(torch.randn(1, 3, frames, crop, crop)).shape == (1, 10)


def test_x3d_builds_for_crops_below_its_total_stride():
    """pytorchvideo's create_x3d refuses crops < 32; with adaptive pooling a 24 px model is fine."""
    model = build_model(x3d_cfg("XS", crop=24, num_classes=10)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 4, 24, 24)).shape == (1, 10)


def test_slowfast_runs_at_reduced_slow_pathway_and_keeps_input_list():
    cfg = CASES["slowfast_8x8"]
    model = build_model(cfg).eval()
    slow, fast = torch.randn(1, 3, 1, 48, 48), torch.randn(1, 3, 8, 64, 64)  # slow reduced only
    inputs = [slow, fast]
    with torch.no_grad(), width(model, 0.5):
        assert model(inputs).shape == (1, 400)
    assert inputs[0] is slow and inputs[1] is fast
    # a fast pathway with a doubled clip (T_fast = alpha * T_slow) runs too
    with torch.no_grad():
        assert model([torch.randn(1, 3, 4, 64, 64), torch.randn(1, 3, 16, 64, 64)]).shape == (1, 400)


@pytest.mark.parametrize("slim_pathways,fast_slimmed", [((0,), False), ((0, 1), True)])
def test_slowfast_slim_pathways_config(slim_pathways, fast_slimmed):
    cfg = slowfast_cfg(alpha=4, frames=8, crop=64, slim_pathways=slim_pathways)
    model = build_model(cfg)
    slow_stem = model.blocks[0].multipathway_blocks[0].conv
    fast_conv = model.blocks[1].multipathway_blocks[1].res_blocks[0].branch2.conv_c  # 32 channels
    assert slow_stem.active_shape(0.5) == (3, 32)
    assert (fast_conv.active_shape(0.5)[1] < fast_conv.out_channels) == fast_slimmed


def test_retrofit_removes_swish_fixed_pools_and_head_softmax():
    model = build_model(x3d_cfg("XS"))
    kinds = {type(m) for m in model.modules()}
    assert Swish not in kinds and nn.AvgPool3d not in kinds and nn.Softmax not in kinds
    assert nn.SiLU in kinds
    stem, proj = model.blocks[0].conv.conv_t, model.blocks[-1].proj
    assert stem.active_shape(0.25)[0] == 3 and proj.active_shape(0.25)[1] == 400


def test_unknown_arch_is_a_clear_error():
    cfg = x3d_cfg()
    cfg.MODEL.ARCH = "mvit"
    with pytest.raises(ConfigError, match="unknown MODEL.ARCH"):
        build_model(cfg)


@pytest.mark.parametrize("zero", [False, True])
def test_zero_init_final_bn_follows_the_config(zero):
    """RESNET.ZERO_INIT_FINAL_BN decides whether residual branches start switched off (pytorchvideo
    always zeroes them; PySlowFast only when asked). Switched on, every branch learns from step one."""
    cfg = x3d_cfg("XS", frames=4, crop=64)
    cfg.RESNET.ZERO_INIT_FINAL_BN = zero
    torch.manual_seed(0)
    model = build_model(cfg)
    blocks = [b for b in model.modules() if hasattr(b, "branch2")]
    assert blocks and all(float(b.branch2.norm_c.weight.detach().abs().max()) == (0.0 if zero else 1.0) for b in blocks)
    model(torch.randn(2, 3, 4, 64, 64)).logsumexp(-1).sum().backward()
    first_conv_grads = [b.branch2.conv_a.weight.grad for b in blocks]
    if zero:  # a switched-off branch passes no gradient to its convs
        assert all(g is None or float(g.abs().max()) == 0.0 for g in first_conv_grads)
    else:
        assert all(g is not None and float(g.abs().max()) > 0.0 for g in first_conv_grads)
