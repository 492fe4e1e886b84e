"""Decoders: frame counts, exact frames, the same frames from both backends, decoding only the
span a clip needs, and clear errors on broken files."""
import bisect
import logging
import random

import av
import numpy as np
import pytest
import torch

from mutualnet_video.data import decoders
from mutualnet_video.data.decoders import (
    DecordReader, FrameListReader, PyAVReader, VideoDecodeError, decode, open_video, probe, resolve_backend,
)

from .conftest import BAD_VIDEOS, GOOD_VIDEOS, VFR_TIMESTAMPS_MS

ALL_GOOD = [*GOOD_VIDEOS, "vfr.mkv"]


def decode_all(path: str) -> np.ndarray:
    """Every frame, decoded sequentially: the reference."""
    with av.open(path) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize("name", ALL_GOOD)
def test_probe_counts_frames_and_fps(videos, name):
    expected = len(VFR_TIMESTAMPS_MS) if name == "vfr.mkv" else GOOD_VIDEOS[name][1]
    for backend in ("pyav", "decord"):
        num_frames, fps = probe(videos[name], backend)
        assert num_frames == expected == len(decode_all(videos[name]))
        if name in GOOD_VIDEOS:
            assert fps == pytest.approx(GOOD_VIDEOS[name][4])
    assert probe(videos[name], "pyav") == pytest.approx(probe(videos[name], "decord"))


@pytest.mark.parametrize("name", ALL_GOOD)
def test_pyav_frames_exact_and_decord_agrees(videos, name):
    reference = decode_all(videos[name])
    rng = random.Random(0)
    with PyAVReader(videos[name]) as pyav_reader, DecordReader(videos[name]) as decord_reader:
        for _ in range(6):
            indices = [rng.randrange(len(reference)) for _ in range(5)]  # any order, repeats
            frames = pyav_reader.read(indices)
            assert frames.dtype == torch.uint8 and frames.shape == (5, *reference.shape[1:])
            assert np.array_equal(frames.numpy(), reference[indices])
            other = decord_reader.read(indices)
            assert other.shape == frames.shape
            assert (other.float() - frames.float()).abs().mean() < 1.0


@pytest.mark.parametrize("name", ["h264_bframes.mp4", "h264.mkv", "vp9.webm"])
def test_pyav_decodes_only_the_needed_span(videos, name):
    """From the keyframe before the first frame to the last frame, nothing outside."""
    rng = random.Random(1)
    with PyAVReader(videos[name]) as reader:
        assert len(reader._keyframes) > 1  # the fixtures have several keyframes
        for _ in range(10):
            first = rng.randrange(reader.num_frames)
            last = rng.randrange(first, reader.num_frames)
            before = reader.frames_decoded
            reader.read([first, last])
            keyframe = reader._keyframes[bisect.bisect_right(reader._keyframes, first) - 1]
            assert reader.last_keyframe == keyframe
            assert 2 <= reader.frames_decoded - before <= last - keyframe + 1


def test_pyav_skips_unneeded_b_frames(videos):
    with PyAVReader(videos["h264_bframes.mp4"]) as reader:
        reader.read([0, 31])
        assert reader.frames_decoded < 32  # disposable B-frames between were not decoded


@pytest.mark.parametrize("backend", ["pyav", "decord"])
@pytest.mark.parametrize("name, reason", [
    ("missing.mp4", "file not found"), ("empty.mp4", "empty file"), ("text.mp4", ""), ("truncated.mp4", ""),
])
def test_bad_files_raise_decode_error(videos, backend, name, reason):
    with pytest.raises(VideoDecodeError) as info:
        decode(videos[name], [0], backend)
    assert info.value.path == videos[name] and reason in info.value.reason
    assert videos[name] in str(info.value)


def test_directory_is_not_a_video(tmp_path):
    with pytest.raises(VideoDecodeError, match="not a regular file"):
        probe(str(tmp_path))


def test_out_of_range_indices(videos):
    with PyAVReader(videos["portrait.mp4"]) as reader, pytest.raises(IndexError):
        reader.read([0, 16])


def test_backend_names(caplog, monkeypatch):
    monkeypatch.setattr(decoders, "_warned_aliases", set())
    with caplog.at_level(logging.WARNING):
        assert resolve_backend("torchvision") == "pyav"
        assert resolve_backend("TorchVision") == "pyav"
    assert sum("torchvision" in r.message for r in caplog.records) == 1
    assert resolve_backend("decord") == "decord"
    with pytest.raises(ValueError, match="DECODING_BACKEND"):
        resolve_backend("opencv")


def test_decord_falls_back_to_pyav_on_widths_it_cannot_copy(videos):
    """decord 0.6 fails on 48 px wide frames ("size must exactly match")."""
    with DecordReader(videos["portrait.mp4"]) as reader:
        frames = reader.read([0, 15])
    assert np.array_equal(frames.numpy(), decode_all(videos["portrait.mp4"])[[0, 15]])


def test_frame_list_reader(tmp_path):
    from torchvision.io import write_jpeg

    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"{i}.jpg"))
        write_jpeg(torch.full((3, 6, 8), 60 * i, dtype=torch.uint8), paths[-1], quality=100)
    with open_video(paths, frame_fps=30) as reader:
        assert (reader.num_frames, reader.fps) == (4, 30.0)
        frames = reader.read([3, 0, 0])
    assert frames.shape == (3, 6, 8, 3)
    assert (frames[:, :, :, 0].float().mean(dim=(1, 2)) - torch.tensor([180.0, 0, 0])).abs().max() < 2
    with pytest.raises(VideoDecodeError, match="file not found"):
        FrameListReader(paths + [str(tmp_path / "gone.jpg")], 30).read([4])


def test_decode_error_pickles():
    import pickle

    error = pickle.loads(pickle.dumps(VideoDecodeError("a.mp4", "empty file")))
    assert (error.path, error.reason, str(error)) == ("a.mp4", "empty file", "a.mp4: empty file")


def test_bad_videos_fixture_complete(videos):
    assert set(BAD_VIDEOS) <= set(videos)
