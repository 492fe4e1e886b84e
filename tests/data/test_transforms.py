"""Spatial transforms: scale jitter, crops by orientation, flips, normalisation, channel order."""
import random

import pytest
import torch

from mutualnet_video.config import get_cfg
from mutualnet_video.data.transforms import (
    SpatialTransform, normalize, random_crop, random_scaled_crop, random_short_side_scale, short_side_scale,
    uniform_crop,
)


def frames_with_columns(t=2, h=40, w=60):
    """uint8 (T, H, W, 3) frames whose red value is the column index (green: the row index)."""
    x = torch.zeros(t, h, w, 3, dtype=torch.uint8)
    x[..., 0] = torch.arange(w, dtype=torch.uint8)
    x[..., 1] = torch.arange(h, dtype=torch.uint8).view(h, 1)
    return x


def test_short_side_scale_keeps_aspect():
    x = frames_with_columns().permute(0, 3, 1, 2)
    assert short_side_scale(x, 20).shape == (2, 3, 20, 30)
    assert short_side_scale(x.transpose(2, 3), 20).shape == (2, 3, 30, 20)
    assert short_side_scale(x, 40) is x


@pytest.mark.parametrize("inverse", [False, True])
def test_scale_jitter_range(inverse):
    x = frames_with_columns().permute(0, 3, 1, 2)
    random.seed(0)
    sizes = {random_short_side_scale(x, 40, 60, inverse).shape[-2] for _ in range(60)}
    assert min(sizes) >= 40 and max(sizes) <= 60 and len(sizes) > 5


@pytest.mark.parametrize("h, w, scales, crop", [(40, 60, (48, 64), 40), (60, 40, (30, 36), 24), (48, 64, (48, 48), 32)])
def test_random_scaled_crop_is_the_crop_of_the_scaled_frames(h, w, scales, crop):
    """Same draws, same window as scaling whole frames then cropping, to under a source pixel."""
    x = frames_with_columns(t=2, h=h, w=w).permute(0, 3, 1, 2).float()  # red = column, green = row
    for seed in range(20):
        random.seed(seed)
        fast = random_scaled_crop(x, *scales, crop)
        random.seed(seed)
        exact = random_crop(random_short_side_scale(x, *scales), crop)
        assert fast.shape == exact.shape == (2, 3, crop, crop)
        assert (fast - exact)[:, :2].abs().mean() < 1.0  # in source pixels (columns, rows)


def test_uniform_crops_follow_orientation():
    landscape = frames_with_columns(h=40, w=60).permute(0, 3, 1, 2)
    left, center, right = (uniform_crop(landscape, 40, k) for k in range(3))
    assert [c[0, 0, 0, 0].item() for c in (left, center, right)] == [0, 10, 20]  # red = column
    portrait = frames_with_columns(h=60, w=40).permute(0, 3, 1, 2)
    top, middle, bottom = (uniform_crop(portrait, 40, k) for k in range(3))
    assert [c[0, 1, 0, 0].item() for c in (top, middle, bottom)] == [0, 10, 20]  # green = row


def test_normalize_and_channel_order():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.2)
    out = normalize(x, mean, std)
    assert out.shape == (3, 2, 4, 4) and out.dtype == torch.float32 and out.is_contiguous()
    expected = [(v / 255 - m) / s for v, m, s in zip((0, 128, 255), mean, std)]
    assert out[:, 0, 0, 0].tolist() == pytest.approx(expected, abs=1e-5)
    bgr = normalize(x, mean, std, reverse_channels=True)
    assert bgr[:, 0, 0, 0].tolist() == pytest.approx(expected[::-1], abs=1e-5)


def test_train_and_test_transforms_from_cfg():
    cfg = get_cfg()
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = [40, 48], 32, 36
    train = SpatialTransform.from_cfg(cfg, "train")
    assert train.train and train.flip and SpatialTransform.from_cfg(cfg, "val") == train
    test = SpatialTransform.from_cfg(cfg, "test")
    assert not test.train and test.scale_range == (36, 36)
    x = frames_with_columns(t=3, h=40, w=60)
    assert train(x).shape == (3, 3, 32, 32)
    assert test(x, 0).shape == test(x, 2).shape == (3, 3, 36, 36)
    assert not torch.equal(test(x, 0), test(x, 2))


def test_flip_is_random_and_can_be_off():
    x = frames_with_columns(h=40, w=60)
    common = dict(crop_size=40, scale_range=(40, 40), train=True, mean=(0, 0, 0), std=(1, 1, 1))

    def left_to_right(transform):  # red (the column index) grows along a row unless flipped
        row = transform(x)[0, 0, 0]
        return bool(row[-1] > row[0])

    random.seed(0)
    flipping = [left_to_right(SpatialTransform(flip=True, **common)) for _ in range(40)]
    assert 5 < sum(flipping) < 35
    assert all(left_to_right(SpatialTransform(flip=False, **common)) for _ in range(20))


def test_invalid_crop_rejected():
    with pytest.raises(ValueError, match="smaller than the crop"):
        SpatialTransform(crop_size=64, scale_range=(56, 72), train=True)
