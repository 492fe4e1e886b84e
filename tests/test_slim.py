"""The width rule and the slim layers: each slim layer at width w equals a plain layer built from
the sliced weights; width 1.0 is the parent layer exactly."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet_video.slim import (
    Segment, SlimBatchNorm3d, SlimConv3d, SlimLinear, active_channels, channel_selection,
    get_width, make_divisible, set_width, width,
)


def test_make_divisible_rounds_to_divisor_and_never_drops_10_percent():
    assert make_divisible(54 * 0.5, 8) == 32  # 24 would be more than 10% below 27
    assert make_divisible(54 * 0.4, 8) == 24
    assert make_divisible(3, 8) == 8  # at least the divisor
    assert make_divisible(100, 8) == 104
    for v in range(1, 500):
        r = make_divisible(v / 3, 8)
        assert r % 8 == 0 and r >= 0.9 * v / 3


def test_active_channels_full_at_width_one_and_capped():
    assert active_channels(54, 1.0, 8) == 54  # no rounding up beyond the layer
    assert active_channels(54, 0.99, 8) == 54
    assert active_channels(24, 0.25, 8) == 8
    assert active_channels(432, 0.5, 8) == 216


def test_channel_selection_prefix_and_per_segment():
    assert channel_selection((Segment(64),), 0.5, 8) == 32
    # the last segment cut: still a prefix
    assert channel_selection((Segment(64, False), Segment(16)), 0.5, 8) == 72
    idx = channel_selection((Segment(64), Segment(16)), 0.5, 8)
    assert torch.equal(idx, torch.cat([torch.arange(0, 32), torch.arange(64, 72)]))


def _conv(cin, cout, groups=1, bias=True):
    return nn.Conv3d(cin, cout, (3, 3, 3), stride=(1, 2, 2), padding=1, groups=groups, bias=bias)


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75])
def test_dense_conv_equals_plain_conv_of_sliced_weights(w):
    torch.manual_seed(0)
    dense = _conv(48, 96)
    slim = SlimConv3d.from_dense(dense, divisor=8, width_range=(0.25, 1.0))
    slim.width = w
    cin, cout = active_channels(48, w), active_channels(96, w)
    x = torch.randn(2, cin, 4, 9, 9)
    plain = _conv(cin, cout)
    plain.weight.data = dense.weight[:cout, :cin].clone()
    plain.bias.data = dense.bias[:cout].clone()
    torch.testing.assert_close(slim(x), plain(x), rtol=0, atol=1e-6)


def test_inference_reuses_active_weights_until_they_change():
    torch.manual_seed(0)
    slim = nn.Sequential(SlimConv3d.from_dense(_conv(48, 96), width_range=(0.25, 1.0)))
    conv = slim[0]
    set_width(slim, 0.5)
    x = torch.randn(2, 24, 4, 9, 9)
    with torch.no_grad():
        first = conv.active_params()[0]
        assert first.is_contiguous() and conv.active_params()[0] is first  # copied once
        torch.testing.assert_close(conv(x), F.conv3d(x, conv.weight[:48, :24], conv.bias[:48], (1, 2, 2), 1))
    assert conv.active_params()[0] is not first and conv.active_params()[0].requires_grad  # training: slices

    sgd = torch.optim.SGD(conv.parameters(), lr=1.0)
    conv(x).sum().backward()
    sgd.step()  # an in-place update: the inference copy is stale and must be remade
    with torch.no_grad():
        torch.testing.assert_close(conv(x), F.conv3d(x, conv.weight[:48, :24], conv.bias[:48], (1, 2, 2), 1))
        conv.load_state_dict({k: v * 2 for k, v in conv.state_dict().items()})
        torch.testing.assert_close(conv(x), F.conv3d(x, conv.weight[:48, :24], conv.bias[:48], (1, 2, 2), 1))
        conv.active_params()
        set_width(slim, 0.25)  # switching width drops the kept copies
        assert conv._inference_params == {}


@pytest.mark.parametrize("w", [0.25, 0.5])
def test_depthwise_conv_runs_fewer_groups(w):
    torch.manual_seed(0)
    dense = _conv(64, 64, groups=64, bias=False)
    slim = SlimConv3d.from_dense(dense)
    slim.width = w
    c = active_channels(64, w)
    x = torch.randn(1, c, 3, 8, 8)
    expected = F.conv3d(x, dense.weight[:c], None, (1, 2, 2), 1, 1, c)
    torch.testing.assert_close(slim(x), expected, rtol=0, atol=1e-6)


def test_grouped_conv_keeps_channels_per_group_and_rejects_partial_groups():
    torch.manual_seed(0)
    dense = _conv(32, 32, groups=4)  # 8 channels per group
    slim = SlimConv3d.from_dense(dense)
    slim.width = 0.5
    x = torch.randn(1, 16, 3, 6, 6)
    expected = F.conv3d(x, dense.weight[:16], dense.bias[:16], (1, 2, 2), 1, 1, 2)
    torch.testing.assert_close(slim(x), expected, rtol=0, atol=1e-6)
    odd = SlimConv3d.from_dense(_conv(48, 48, groups=3))  # 16 per group; 0.25 -> 16 ok, 0.5 -> 24 not
    odd.width = 0.5
    with pytest.raises(ValueError, match="whole groups"):
        odd(torch.randn(1, 24, 3, 6, 6))


def test_concat_input_takes_the_active_part_of_each_segment():
    torch.manual_seed(0)
    dense = _conv(80, 32)  # reads cat([slow 64, lateral 16])
    slim = SlimConv3d.from_dense(dense)
    slim.set_specs(in_spec=(Segment(64), Segment(16)))
    slim.width = 0.5
    slow, lateral = torch.randn(1, 32, 2, 6, 6), torch.randn(1, 8, 2, 6, 6)
    w = torch.cat([dense.weight[:16, :32], dense.weight[:16, 64:72]], dim=1)
    expected = F.conv3d(torch.cat([slow, lateral], 1), w, dense.bias[:16], (1, 2, 2), 1)
    torch.testing.assert_close(slim(torch.cat([slow, lateral], 1)), expected, rtol=0, atol=1e-6)


def test_width_one_is_the_parent_layer_exactly():
    torch.manual_seed(0)
    dense, x = _conv(16, 24), torch.randn(2, 16, 3, 8, 8)
    slim = SlimConv3d.from_dense(dense)
    assert torch.equal(slim(x), dense(x))
    lin = nn.Linear(24, 5)
    y = torch.randn(3, 24)
    assert torch.equal(SlimLinear.from_dense(lin)(y), lin(y))


def test_slim_batchnorm_train_updates_only_the_active_slice():
    torch.manual_seed(0)
    bn = nn.BatchNorm3d(32, momentum=None)  # cumulative average
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.normal_()
    slim = SlimBatchNorm3d.from_dense(bn)
    slim.width = 0.5
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    batches = [torch.randn(4, 16, 2, 5, 5) * 3 + 1 for _ in range(3)]
    for x in batches:
        out = slim.train()(x)
    ref = F.batch_norm(batches[-1], None, None, bn.weight[:16], bn.bias[:16], True, 0.0, bn.eps)
    torch.testing.assert_close(out, ref)
    data = torch.stack(batches)  # (3, 4, 16, 2, 5, 5)
    mean = data.transpose(0, 2).reshape(16, -1).mean(1)
    var_per_batch = torch.stack([b.transpose(0, 1).reshape(16, -1).var(1, unbiased=True) for b in batches])
    torch.testing.assert_close(slim.running_mean[:16], mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(slim.running_var[:16], var_per_batch.mean(0), rtol=1e-4, atol=1e-5)
    assert torch.equal(slim.running_mean[16:], before_mean[16:])
    assert torch.equal(slim.running_var[16:], before_var[16:])
    # eval mode uses the (sliced) running statistics
    x = torch.randn(2, 16, 2, 5, 5)
    expected = F.batch_norm(x, slim.running_mean[:16], slim.running_var[:16], bn.weight[:16], bn.bias[:16], False, 0.0, bn.eps)
    torch.testing.assert_close(slim.eval()(x), expected)



@pytest.mark.parametrize("track", [True, False])
def test_slim_batchnorm_at_half_width_is_a_plain_batchnorm_of_the_active_channels(track):
    torch.manual_seed(0)
    bn = nn.BatchNorm3d(32, track_running_stats=track)
    bn.weight.data.uniform_(0.5, 1.5)
    slim = SlimBatchNorm3d.from_dense(bn)
    plain = nn.BatchNorm3d(16, track_running_stats=track)
    plain.load_state_dict({k: v[:16] if v.dim() else v for k, v in bn.state_dict().items()})
    slim.width = 0.5
    for _ in range(2):  # inference, a training step, inference again: the kept views follow the update
        x = torch.randn(4, 16, 2, 5, 5) * 2 + 1
        with torch.no_grad():
            torch.testing.assert_close(slim.eval()(x), plain.eval()(x))
        torch.testing.assert_close(slim.train()(x), plain.train()(x))
    if track:
        torch.testing.assert_close(slim.running_mean[:16], plain.running_mean)
        assert int(slim.num_batches_tracked) == int(plain.num_batches_tracked) == 2

def test_slim_linear_multi_segment_input():
    torch.manual_seed(0)
    lin = nn.Linear(40, 7)
    slim = SlimLinear.from_dense(lin)
    slim.set_specs(in_spec=(Segment(32), Segment(8, False)))
    slim.set_specs(out_spec=(Segment(7, False),))
    slim.width = 0.5
    x = torch.randn(3, 16 + 8)
    w = torch.cat([lin.weight[:, :16], lin.weight[:, 32:40]], 1)
    torch.testing.assert_close(slim(x), F.linear(x, w, lin.bias), rtol=0, atol=1e-6)


def test_set_width_checks_the_range_and_the_context_manager_restores():
    model = nn.Sequential(SlimConv3d.from_dense(_conv(8, 16), width_range=(0.5, 1.0)))
    set_width(model, 0.75)
    assert get_width(model) == 0.75
    with width(model, 0.5):
        assert model[0].width == 0.5
    assert model[0].width == 0.75
    with pytest.raises(ValueError, match="outside the model's trained width range"):
        set_width(model, 0.25)
    with pytest.raises(ValueError, match="no slimmable layers"):
        set_width(nn.Sequential(nn.ReLU()), 0.5)


def test_a_range_below_one_starts_at_its_max():
    """A static model at a smaller width (WIDTH_RANGE [w, w]) starts and stays at w."""
    model = nn.Sequential(SlimConv3d.from_dense(_conv(8, 16), width_range=(0.5, 0.5)))
    assert get_width(model) == 0.5
    with width(model, 0.5):
        pass
    assert model(torch.randn(1, 8, 2, 4, 4)).shape[1] == 8
