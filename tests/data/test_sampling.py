"""Temporal sampling (PySlowFast's clip and segment rules) and SlowFast pathway packing."""
import random

import pytest
import torch

from mutualnet_video.data.sampling import (
    RANDOM_VIEW, TemporalSampling, clip_indices, linspace_indices, pack_pathways, segment_indices,
)


def test_clip_span_follows_fps():
    """16 frames at rate 5 for 30 fps target: 80 source frames at 30 fps, 160 at 60 fps."""
    sampling = TemporalSampling("clip", num_frames=16, sampling_rate=5, target_fps=30)
    random.seed(0)
    for fps, span in ((30.0, 80), (60.0, 160), (15.0, 40)):
        for _ in range(20):
            indices = sampling.indices(1000, fps)
            assert len(indices) == 16 and indices == sorted(indices)
            assert span - 2 <= indices[-1] - indices[0] <= span - 1
            assert 0 <= indices[0] and indices[-1] < 1000


def test_random_clip_start_covers_the_video():
    random.seed(0)
    starts = [clip_indices(100, 20, 4)[0] for _ in range(300)]
    assert min(starts) <= 2 and max(starts) >= 78


def test_test_views_are_uniform_and_deterministic():
    views = [clip_indices(100, 20, 5, view=k, num_views=4) for k in range(4)]
    assert [v[0] for v in views] == [0, 20, 40, 60]  # delta * k / num_views, delta = 80
    assert views == [clip_indices(100, 20, 5, view=k, num_views=4) for k in range(4)]


def test_offset_sampling_spans_first_to_last():
    views = [clip_indices(100, 20, 5, view=k, num_views=3, use_offset=True) for k in range(3)]
    assert [v[0] for v in views] == [0, 40, 80] and views[-1][-1] == 99
    assert clip_indices(100, 20, 5, view=0, num_views=1, use_offset=True)[0] == 40


def test_short_video_repeats_last_frame():
    assert clip_indices(10, 40, 8, view=0) == linspace_indices(0, 39, 8, 10)
    assert clip_indices(10, 40, 8, view=0)[-3:] == [9, 9, 9]


def test_segment_sampling_matches_pyslowfast():
    # PySlowFast: seg = (n - 1) / T; start, end = round(seg * i), round(seg * (i + 1)); test: middle.
    n, t = 50, 8
    seg = (n - 1) / t
    middle = [(round(seg * i) + round(seg * (i + 1))) // 2 for i in range(t)]
    assert segment_indices(n, t, view=0, num_views=1) == middle
    random.seed(0)
    for _ in range(20):
        picks = segment_indices(n, t)
        assert all(round(seg * i) <= p <= round(seg * (i + 1)) for i, p in enumerate(picks))
    two = [segment_indices(n, t, view=k, num_views=2) for k in range(2)]
    assert all(a <= m <= b for a, m, b in zip(two[0], middle, two[1])) and two[0] != two[1]


def test_sampling_rule_validated():
    with pytest.raises(ValueError, match="TEMPORAL_SAMPLING"):
        TemporalSampling("dense", 8, 2, 30)
    assert TemporalSampling("segment", 4, 1, 30).indices(9, 30.0, view=0) == segment_indices(9, 4, 0)
    assert RANDOM_VIEW == -1


def test_slowfast_packing():
    clip = torch.arange(32, dtype=torch.float32).view(1, 32, 1, 1).expand(3, 32, 2, 2)
    slow, fast = pack_pathways(clip, (1, 4))
    assert fast is clip and slow.shape == (3, 8, 2, 2)
    assert slow[0, :, 0, 0].tolist() == torch.linspace(0, 31, 8).long().float().tolist()
    assert pack_pathways(clip, (1,)) is clip
    with pytest.raises(ValueError, match="ALPHA"):
        pack_pathways(clip[:, :2], (1, 4))
