"""Temporal sampling: which frames of a video make a clip (PySlowFast's rules), and pathway packing.

Two rules, picked by ``DATA.TEMPORAL_SAMPLING`` (empty: the data set's own, as in PySlowFast):

- ``clip`` (Kinetics): a clip spans ``SAMPLING_RATE * NUM_FRAMES / TARGET_FPS * fps`` source frames;
  its ``NUM_FRAMES`` frames are picked with linspace over the span. Training takes a random span;
  testing takes span ``k`` of ``NUM_ENSEMBLE_VIEWS`` spread uniformly over the video.
- ``segment`` (SSv2): the video is cut into ``NUM_FRAMES`` equal segments and one frame is picked per
  segment: a random one in training, the middle one in testing (view ``k`` of ``n`` takes the
  point at ``(2k + 1) / 2n`` of each segment, so one view is exactly PySlowFast's middle frame).

View ``RANDOM_VIEW`` (-1) means random (train and val); ``0 .. num_views - 1`` is a fixed test view.
"""
import dataclasses
import math
import random
from typing import List, Sequence, Union

import torch

RANDOM_VIEW = -1


def linspace_indices(start: float, end: float, num: int, num_frames: int) -> List[int]:
    """``num`` indices from ``start`` to ``end`` (inclusive), truncated and clamped to the video."""
    step = (end - start) / (num - 1) if num > 1 else 0.0
    return [min(max(int(start + k * step), 0), num_frames - 1) for k in range(num)]


def clip_indices(
    num_frames: int, clip_size: float, num_samples: int, view: int = RANDOM_VIEW, num_views: int = 1,
    use_offset: bool = False,
) -> List[int]:
    """Frame indices of a clip of ``clip_size`` source frames, ``num_samples`` frames picked in it.

    Args:
        num_frames: frames in the video.
        clip_size: the clip's span in source frames (``SAMPLING_RATE * NUM_FRAMES / TARGET_FPS * fps``).
        num_samples: frames to return.
        view: ``RANDOM_VIEW`` for a random span, else the index of a uniformly placed span.
        num_views: how many uniformly placed spans there are (``TEST.NUM_ENSEMBLE_VIEWS``).
        use_offset: ``DATA.USE_OFFSET_SAMPLING``: spans from the first to the last possible start
            (one view: the middle) instead of PySlowFast's default ``delta * view / num_views``.
    Returns:
        ``num_samples`` indices in ``[0, num_frames)``, non-decreasing; a video shorter than the
        span repeats its last frame.
    """
    delta = max(num_frames - clip_size, 0.0)
    if view == RANDOM_VIEW:
        start = random.uniform(0, delta)
    elif use_offset:
        start = math.floor(delta / 2) if num_views == 1 else view * math.floor(delta / (num_views - 1))
    else:
        start = delta * view / num_views
    return linspace_indices(start, start + clip_size - 1, num_samples, num_frames)


def segment_indices(num_frames: int, num_samples: int, view: int = RANDOM_VIEW, num_views: int = 1) -> List[int]:
    """One frame in each of ``num_samples`` equal segments of the video (PySlowFast's SSv2 rule)."""
    size = (num_frames - 1) / num_samples
    indices = []
    for k in range(num_samples):
        start, end = round(size * k), round(size * (k + 1))
        if view == RANDOM_VIEW:
            indices.append(random.randint(start, end))
        else:
            indices.append(start + (end - start) * (2 * view + 1) // (2 * num_views))
    return indices


@dataclasses.dataclass(frozen=True)
class TemporalSampling:
    """Which frames a clip takes from a video, from the config.

    Attributes:
        rule: ``"clip"`` or ``"segment"``.
        num_frames: frames per clip (``DATA.NUM_FRAMES``).
        sampling_rate: ``DATA.SAMPLING_RATE`` (clip rule only).
        target_fps: ``DATA.TARGET_FPS`` (clip rule only).
        num_views: temporal views per video (``TEST.NUM_ENSEMBLE_VIEWS`` in test, else 1).
        use_offset: ``DATA.USE_OFFSET_SAMPLING``.
    """

    rule: str
    num_frames: int
    sampling_rate: int
    target_fps: float
    num_views: int = 1
    use_offset: bool = False

    RULES = ("clip", "segment")

    def __post_init__(self):
        if self.rule not in self.RULES:
            raise ValueError(f"DATA.TEMPORAL_SAMPLING must be one of {self.RULES} (or empty), got {self.rule!r}")
        if self.num_frames < 1 or self.sampling_rate < 1 or self.target_fps <= 0 or self.num_views < 1:
            raise ValueError(f"invalid temporal sampling {self}")

    def indices(self, video_frames: int, fps: float, view: int = RANDOM_VIEW) -> List[int]:
        """``num_frames`` frame indices for ``view`` of a video of ``video_frames`` frames at ``fps``."""
        if self.rule == "segment":
            return segment_indices(video_frames, self.num_frames, view, self.num_views)
        clip_size = self.sampling_rate * self.num_frames / self.target_fps * fps
        return clip_indices(video_frames, clip_size, self.num_frames, view, self.num_views, self.use_offset)


def pack_pathways(frames: torch.Tensor, frame_ratios: Sequence[int]) -> Union[torch.Tensor, List[torch.Tensor]]:
    """The model input for one clip ``(C, T, H, W)``, for an architecture whose pathways see
    ``frame_ratios`` frames per frame of the first (``Architecture.frame_ratios``).

    One pathway: ``frames`` itself. Several (SlowFast's ``(1, ALPHA)``): one tensor per pathway; the
    fastest gets ``frames``, a pathway of ratio ``r`` the frames at ``linspace(0, T - 1, T * r // max)``
    (PySlowFast's packing).
    """
    if len(frame_ratios) == 1:
        return frames
    t, fastest = frames.shape[1], max(frame_ratios)
    if t < fastest:
        raise ValueError(f"these pathways (frame ratios {tuple(frame_ratios)}, e.g. SlowFast's 1 and "
                         f"SLOWFAST.ALPHA) need at least {fastest} frames per clip, got {t}")
    return [frames if r == fastest else frames.index_select(1, torch.linspace(0, t - 1, t * r // fastest).long())
            for r in frame_ratios]
