"""Data set items: shapes, views, flips, SSv2 sampling, backends, retries, SlowFast, sub-configs."""
import logging
import random

import pytest
import torch

from mutualnet_video.config import SubnetConfig
from mutualnet_video.data import VideoLoadError, build_dataset, derive_input

from .conftest import BAD_VIDEOS, GOOD_VIDEOS, tiny_cfg, write_kinetics


def test_train_and_val_items(kinetics_dir):
    cfg = tiny_cfg(kinetics_dir)
    random.seed(0)
    for split in ("train", "val"):  # val samples like train, as in PySlowFast
        dataset = build_dataset(cfg, split)
        assert len(dataset) == dataset.num_videos == len(GOOD_VIDEOS)
        for i in range(len(dataset)):
            frames, label, index, meta = dataset[i]
            assert frames.shape == (3, 8, 48, 48) and frames.dtype == torch.float32
            assert label.dtype == torch.int64 and label.item() == i and index == i
            assert meta == {"video_index": i, "temporal_index": -1, "spatial_index": -1, "skipped": 0}
            assert -2.1 < frames.min() and frames.max() < 2.5  # (x / 255 - 0.45) / 0.225


def test_test_items_views_and_crops(kinetics_dir):
    dataset = build_dataset(tiny_cfg(kinetics_dir), "test")
    assert dataset.views_per_video == 6 and len(dataset) == 6 * dataset.num_videos
    for index in range(len(dataset)):
        frames, label, returned, meta = dataset[index]
        video, view = divmod(index, 6)
        assert frames.shape == (3, 8, 56, 56) and returned == index
        assert dataset.video_index(index) == video == meta["video_index"] == label.item()
        assert (meta["temporal_index"], meta["spatial_index"]) == divmod(view, 3)
    first_view = [dataset[i][0] for i in range(3)]
    assert not torch.equal(first_view[0], first_view[2])  # left and right crops differ
    assert torch.equal(dataset[7][0], dataset[7][0])  # deterministic


def test_single_crop_is_the_center(kinetics_dir):
    one = build_dataset(tiny_cfg(kinetics_dir, **{"TEST.NUM_SPATIAL_CROPS": 1}), "test")
    three = build_dataset(tiny_cfg(kinetics_dir), "test")
    assert len(one) == 2 * one.num_videos and one[1][3]["spatial_index"] == 0
    assert torch.equal(one[1][0], three[4][0])  # video 0, temporal view 1, center crop


def test_portrait_test_crops_are_vertical(kinetics_dir):
    dataset = build_dataset(tiny_cfg(kinetics_dir), "test")
    portrait = list(GOOD_VIDEOS).index("portrait.mp4") * 6
    top, middle, bottom = (dataset[portrait + k][0] for k in range(3))
    assert top.shape == (3, 8, 56, 56) and not torch.equal(top, bottom) and not torch.equal(top, middle)


def test_backends_give_the_same_clips(kinetics_dir):
    clips = {}
    for backend in ("pyav", "decord", "torchvision"):
        dataset = build_dataset(tiny_cfg(kinetics_dir, **{"DATA.DECODING_BACKEND": backend}), "test")
        clips[backend] = torch.stack([dataset[i][0] for i in range(0, len(dataset), 2)])
    assert torch.equal(clips["pyav"], clips["torchvision"])
    assert (clips["pyav"] - clips["decord"]).abs().mean() < 0.02  # decoder rounding only


def test_reverse_input_channel(kinetics_dir):
    rgb = build_dataset(tiny_cfg(kinetics_dir), "test")[0][0]
    bgr = build_dataset(tiny_cfg(kinetics_dir, **{"DATA.REVERSE_INPUT_CHANNEL": True}), "test")[0][0]
    assert torch.allclose(bgr, rgb.flip(0))


def flipped_fraction(dataset, draws=30) -> float:
    """Share of items whose bright half (the asymmetric video's right half) came out on the left."""
    flipped = 0
    for _ in range(draws):
        frames = dataset[0][0]
        flipped += bool(frames[:, :, :, :8].mean() > frames[:, :, :, -8:].mean())
    return flipped / draws


@pytest.fixture()
def asymmetric_dir(tmp_path, videos):
    return write_kinetics(tmp_path, videos, [("asymmetric.mp4", 0)])


def test_flip_rules(asymmetric_dir, caplog):
    """Kinetics flips at random (DATA.RANDOM_FLIP on), never in test; SSv2 configs turn it off."""
    random.seed(0)
    crop = {"DATA.TRAIN_JITTER_SCALES": [48, 48]}  # the crop always straddles the middle
    assert 0.1 < flipped_fraction(build_dataset(tiny_cfg(asymmetric_dir, **crop), "train")) < 0.9
    no_flip = tiny_cfg(asymmetric_dir, **crop, **{"DATA.RANDOM_FLIP": False})
    assert flipped_fraction(build_dataset(no_flip, "train")) == 0
    assert flipped_fraction(build_dataset(tiny_cfg(asymmetric_dir), "test"), draws=3) == 0


def test_ssv2_flip_off_and_warning(ssv2_dir, caplog):
    ssv2 = {"TRAIN.DATASET": "ssv2", "DATA.RANDOM_FLIP": False}
    dataset = build_dataset(tiny_cfg(ssv2_dir, ssv2_dir, **ssv2), "train")
    assert not dataset.spatial.flip and "RANDOM_FLIP" not in caplog.text
    with caplog.at_level(logging.WARNING):
        dataset = build_dataset(tiny_cfg(ssv2_dir, ssv2_dir, **{**ssv2, "DATA.RANDOM_FLIP": True}), "train")
    assert dataset.spatial.flip and "RANDOM_FLIP is on for SSv2" in caplog.text


def test_ssv2_segment_items_from_videos_and_frames(ssv2_dir):
    common = {"TEST.DATASET": "ssv2", "TEST.NUM_ENSEMBLE_VIEWS": 1}
    from_video = build_dataset(tiny_cfg(ssv2_dir, ssv2_dir, **common), "test")
    from_frames = build_dataset(tiny_cfg(ssv2_dir, ssv2_dir, **common, **{"DATA.USE_FRAMES": True}), "test")
    assert len(from_video) == len(from_frames) == 9
    for i in (0, 4, 8):
        a, b = from_video[i], from_frames[i]
        assert a[0].shape == b[0].shape == (3, 8, 56, 56) and a[1] == b[1] and a[3] == b[3]
        assert (a[0] - b[0]).abs().mean() < 0.05  # the same frames, through JPEG
    cfg = tiny_cfg(ssv2_dir, ssv2_dir, **{"TRAIN.DATASET": "ssv2", "DATA.RANDOM_FLIP": False})
    train = build_dataset(cfg, "train")
    assert train[2][0].shape == (3, 8, 48, 48)


def test_temporal_sampling_override(kinetics_dir):
    dataset = build_dataset(tiny_cfg(kinetics_dir, **{"DATA.TEMPORAL_SAMPLING": "segment"}), "train")
    assert dataset.temporal.rule == "segment" and dataset[0][0].shape == (3, 8, 48, 48)


def test_slowfast_items(kinetics_dir):
    cfg = tiny_cfg(kinetics_dir, **{"MODEL.ARCH": "slowfast", "SLOWFAST.ALPHA": 4})
    (slow, fast), _, _, _ = build_dataset(cfg, "train")[0]
    assert slow.shape == (3, 2, 48, 48) and fast.shape == (3, 8, 48, 48)
    assert torch.equal(slow, fast[:, [0, 7]])  # linspace(0, 7, 2)


@pytest.mark.parametrize("arch", ["x3d", "slowfast"])
def test_sub_config_items_are_derived_from_the_full_clip(kinetics_dir, arch):
    cfg = tiny_cfg(kinetics_dir, **{"MODEL.ARCH": arch, "SLOWFAST.ALPHA": 4})
    sub = SubnetConfig(0.5, 32, 2 if arch == "slowfast" else 4)
    full, reduced = build_dataset(cfg, "test"), build_dataset(cfg, "test", sub=sub)
    assert len(full) == len(reduced)
    for i in (0, 5):
        clip, label, index, meta = reduced[i]
        assert (label, index, meta) == full[i][1:]
        batch = full[i][0]
        batch = batch.unsqueeze(0) if arch == "x3d" else [x.unsqueeze(0) for x in batch]
        expected = derive_input(batch, sub, cfg.MUTUALNET.REDUCE_PATHWAYS)
        if arch == "x3d":
            assert clip.shape == (3, 4, 32, 32) and torch.equal(clip, expected[0])
        else:
            assert clip[0].shape == (3, 2, 32, 32) and clip[1].shape == (3, 8, 56, 56)  # Fast kept full
            assert all(torch.equal(c, e[0]) for c, e in zip(clip, expected))


def test_unreadable_videos_are_replaced_counted_and_logged_once(mixed_dir, videos, caplog):
    dataset = build_dataset(tiny_cfg(mixed_dir), "train")
    random.seed(0)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            for index in range(2, 6):
                frames, label, returned, meta = dataset[index]
                assert frames.shape == (3, 8, 48, 48) and label.item() in (0, 1) and returned in (0, 1)
                assert meta["skipped"] >= 1 and meta["video_index"] == returned
    assert set(dataset.failures) == {videos[name] for name in BAD_VIDEOS}
    assert dataset.failures[videos["missing.mp4"]] == "file not found"
    assert dataset.failures[videos["empty.mp4"]] == "empty file"
    assert dataset.num_skipped >= 12
    for name in BAD_VIDEOS:  # logged once per video, with the reason
        assert sum(videos[name] in r.message for r in caplog.records) == 1


def test_retry_budget_exhausted_names_files_and_reasons(tmp_path, videos):
    folder = write_kinetics(tmp_path, videos, [(name, 0) for name in BAD_VIDEOS])
    dataset = build_dataset(tiny_cfg(folder, **{"DATA.NUM_RETRIES": 2}), "test")
    with pytest.raises(VideoLoadError) as info:
        dataset[0]
    assert len(info.value.failures) == 3  # the first try and 2 retries
    assert info.value.failures[0] == (videos["truncated.mp4"], dataset.failures[videos["truncated.mp4"]])
    message = str(info.value)
    assert "DATA.NUM_RETRIES" in message and videos["truncated.mp4"] in message


def test_invalid_test_views(kinetics_dir):
    with pytest.raises(ValueError, match="NUM_SPATIAL_CROPS"):
        build_dataset(tiny_cfg(kinetics_dir, **{"TEST.NUM_SPATIAL_CROPS": 4}), "test")


def test_decode_once_serves_the_same_clips_from_memory(kinetics_dir, mixed_dir, videos, monkeypatch):
    from mutualnet_video.data import memory

    memory.clear()
    decoded = build_dataset(tiny_cfg(kinetics_dir), "test")
    cached = build_dataset(tiny_cfg(kinetics_dir, **{"DATA.DECODE_ONCE": True}), "test")
    for index in range(len(decoded)):  # every view of every video, as the decoder would serve it
        assert torch.equal(cached[index][0], decoded[index][0])
    assert len(memory._VIDEOS) == cached.num_videos  # each video decoded once for all its views

    # later data sets of the process read from memory: no decoder is opened again
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(memory, "open_video", no_decoding)
    again = build_dataset(tiny_cfg(kinetics_dir, **{"DATA.DECODE_ONCE": True}), "test")
    assert torch.equal(again[3][0], decoded[3][0])
    monkeypatch.undo()

    # unreadable videos keep their contract: skipped with their reason, never cached
    mixed = build_dataset(tiny_cfg(mixed_dir, **{"DATA.DECODE_ONCE": True}), "train")
    random.seed(0)
    frames, label, returned, meta = mixed[2]
    assert meta["skipped"] >= 1 and returned in (0, 1)
    assert all(key[0] != videos[name] for key in memory._VIDEOS for name in BAD_VIDEOS)
    memory.clear()
    assert not memory._VIDEOS
