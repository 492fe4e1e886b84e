"""Spatial transforms of a decoded clip, in plain torch (PySlowFast's rules).

Frames stay ``uint8`` while they are resized and cropped (torch's antialiased bilinear kernel for
``uint8`` channels-last images is several times faster than the float one), and become float only
at the end, at the crop size:

- train / val: short side scaled to a random size in ``[min_scale, max_scale]`` (uniform, or
  inverse-uniform with ``DATA.INV_UNIFORM_SAMPLE``), random ``crop_size`` square, horizontal flip
  with probability 0.5 if ``DATA.RANDOM_FLIP``; only the source pixels under the crop are scaled
  (``random_scaled_crop``: 2-3x fewer pixels than scaling whole frames);
- test: short side scaled to ``TEST_CROP_SIZE``, then the crop at position 0 / 1 / 2: left / center
  / right for landscape frames, top / center / bottom for portrait ones;
- then ``(x / 255 - MEAN) / STD`` per RGB channel, and RGB -> BGR if ``DATA.REVERSE_INPUT_CHANNEL``.
"""
import dataclasses
import math
import random
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

CENTER = 1  # crop position of a single test crop


def scaled_size(h: int, w: int, size: int) -> Tuple[int, int]:
    """``(height, width)`` with the short side ``size`` (long side floored, as PySlowFast)."""
    if w < h:
        return int(math.floor(h / w * size)), size
    return size, int(math.floor(w / h * size))


def resize(frames: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """``(T, C, H, W)`` frames resized to ``size`` (antialiased bilinear)."""
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)


def short_side_scale(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(T, C, H, W)`` frames so the short side is ``size`` (long side floored, as PySlowFast)."""
    h, w = frames.shape[-2:]
    if min(h, w) == size:
        return frames
    return resize(frames, scaled_size(h, w, size))


def random_scale(min_size: int, max_size: int, inverse_uniform: bool = False) -> int:
    """A short side in ``[min_size, max_size]``: uniform, or ``1 / u`` with ``u`` uniform in
    ``[1 / max_size, 1 / min_size]`` (``inverse_uniform``)."""
    if inverse_uniform:
        return int(round(1.0 / random.uniform(1.0 / max_size, 1.0 / min_size)))
    return int(round(random.uniform(min_size, max_size)))


def random_short_side_scale(
    frames: torch.Tensor, min_size: int, max_size: int, inverse_uniform: bool = False
) -> torch.Tensor:
    """``short_side_scale`` to a random size in ``[min_size, max_size]`` (see ``random_scale``)."""
    return short_side_scale(frames, random_scale(min_size, max_size, inverse_uniform))


def random_scaled_crop(
    frames: torch.Tensor, min_size: int, max_size: int, crop: int, inverse_uniform: bool = False
) -> torch.Tensor:
    """``random_crop(random_short_side_scale(frames, ...), crop)`` of ``(T, C, H, W)`` frames, scaling
    only the source window under the crop: ``(T, C, crop, crop)``.

    The window is rounded out to whole source pixels, so its scale and position may differ from the
    exact ones by under one source pixel (an augmentation does not notice).
    """
    h, w = frames.shape[-2:]
    new_h, new_w = scaled_size(h, w, random_scale(min_size, max_size, inverse_uniform))
    y, x = random.randint(0, new_h - crop), random.randint(0, new_w - crop)
    if (new_h, new_w) == (h, w):
        return frames[..., y : y + crop, x : x + crop]
    y0, y1 = math.floor(y * h / new_h), min(math.ceil((y + crop) * h / new_h), h)
    x0, x1 = math.floor(x * w / new_w), min(math.ceil((x + crop) * w / new_w), w)
    return resize(frames[..., y0:y1, x0:x1], (crop, crop))


def random_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """A random ``size`` x ``size`` crop of ``(T, C, H, W)`` frames."""
    h, w = frames.shape[-2:]
    y = random.randint(0, h - size)
    x = random.randint(0, w - size)
    return frames[..., y : y + size, x : x + size]


def uniform_crop(frames: torch.Tensor, size: int, position: int) -> torch.Tensor:
    """The ``size`` x ``size`` crop at ``position`` 0 / 1 / 2 along the long side of ``(T, C, H, W)``."""
    if position not in (0, 1, 2):
        raise ValueError(f"crop position must be 0, 1 or 2, got {position}")
    h, w = frames.shape[-2:]
    y, x = math.ceil((h - size) / 2), math.ceil((w - size) / 2)
    if h > w:
        y = {0: 0, 1: y, 2: h - size}[position]
    else:
        x = {0: 0, 1: x, 2: w - size}[position]
    return frames[..., y : y + size, x : x + size]


def normalize(
    frames: torch.Tensor, mean: Sequence[float], std: Sequence[float], reverse_channels: bool = False,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``uint8 (T, 3, H, W)`` RGB frames -> float ``(3, T, H, W)``, ``(x / 255 - mean) / std``.

    ``mean`` and ``std`` are in RGB order; ``reverse_channels`` then returns BGR (PySlowFast's
    ``REVERSE_INPUT_CHANNEL`` order of operations). ``out``: a float ``(3, T, H, W)`` tensor to write
    the result into (e.g. a row of a batch), instead of a new one.
    """
    scale = torch.tensor([1.0 / (255.0 * s) for s in std]).view(3, 1, 1, 1)
    shift = torch.tensor([m / s for m, s in zip(mean, std)]).view(3, 1, 1, 1)
    if reverse_channels:
        frames, scale, shift = frames.flip(1), scale.flip(0), shift.flip(0)
    t, c, h, w = frames.shape
    out = torch.empty((c, t, h, w), dtype=torch.float32) if out is None else out
    out.copy_(frames.permute(1, 0, 2, 3).contiguous())  # gathering uint8 first: 1.5x faster than float
    return out.mul_(scale).sub_(shift)


@dataclasses.dataclass(frozen=True)
class SpatialTransform:
    """Decoded ``uint8 (T, H, W, 3)`` frames -> normalized float ``(3, T, crop_size, crop_size)``.

    Attributes:
        crop_size: output height and width.
        scale_range: ``(min, max)`` short side before cropping; ``min == max`` for test.
        train: random crop (and flip); otherwise the crop at the position given to ``__call__``.
        flip: random horizontal flip (train only).
        inverse_uniform: inverse-uniform sampling of the scale.
        mean, std: per RGB channel, on ``[0, 1]`` pixels.
        reverse_channels: return BGR.
    """

    crop_size: int
    scale_range: Tuple[int, int]
    train: bool
    flip: bool = False
    inverse_uniform: bool = False
    mean: Tuple[float, ...] = (0.45, 0.45, 0.45)
    std: Tuple[float, ...] = (0.225, 0.225, 0.225)
    reverse_channels: bool = False

    def __post_init__(self):
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"invalid short-side scale range {self.scale_range}")
        if lo < self.crop_size:
            raise ValueError(f"short-side scale {lo} is smaller than the crop {self.crop_size}")

    @classmethod
    def from_cfg(cls, cfg, split: str) -> "SpatialTransform":
        """PySlowFast's settings for a split: train and val random (jitter, crop, flip), test fixed."""
        common = dict(mean=tuple(cfg.DATA.MEAN), std=tuple(cfg.DATA.STD),
                      reverse_channels=cfg.DATA.REVERSE_INPUT_CHANNEL)
        if split == "test":
            size = cfg.DATA.TEST_CROP_SIZE
            return cls(crop_size=size, scale_range=(size, size), train=False, **common)
        lo, hi = cfg.DATA.TRAIN_JITTER_SCALES
        return cls(crop_size=cfg.DATA.TRAIN_CROP_SIZE, scale_range=(lo, hi), train=True,
                   flip=cfg.DATA.RANDOM_FLIP, inverse_uniform=cfg.DATA.INV_UNIFORM_SAMPLE, **common)

    def __call__(self, frames: torch.Tensor, position: int = CENTER, out: Optional[torch.Tensor] = None
                 ) -> torch.Tensor:
        """Transform ``uint8 (T, H, W, 3)`` frames; ``position`` is the test crop (0, 1, 2); ``out``: see
        ``normalize``."""
        x = frames.permute(0, 3, 1, 2)  # (T, 3, H, W), channels-last in memory
        if self.train:
            x = random_scaled_crop(x, *self.scale_range, self.crop_size, inverse_uniform=self.inverse_uniform)
            if self.flip and random.random() < 0.5:
                x = x.flip(-1)
        else:
            x = uniform_crop(short_side_scale(x, self.scale_range[0]), self.crop_size, position)
        return normalize(x, self.mean, self.std, self.reverse_channels, out)
