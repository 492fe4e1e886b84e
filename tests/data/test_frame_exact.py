"""Frame-exact random access: frame ``i`` of ``read`` is frame ``i`` of a sequential decode, for every
container of ``CONTAINER_VIDEOS``, both backends, at the start, middle and end and around keyframes."""
import random

import av
import numpy as np
import pytest

from mutualnet_video.data.decoders import DecordReader, PyAVReader, open_video

from .conftest import CONTAINER_VIDEOS


def sequential(path: str) -> np.ndarray:
    """Every frame in decoder output order: the reference."""
    with av.open(path) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def probe_points(num_frames: int, keyframes) -> list:
    """Start, middle, end, and the frames around each forced keyframe."""
    middle = num_frames // 2
    points = {0, 1, 2, middle - 1, middle, middle + 1, num_frames - 2, num_frames - 1}
    points |= {k + d for k in keyframes for d in (-1, 0, 1, 2)}
    return sorted(i for i in points if 0 <= i < num_frames)


def mean_diff(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("backend", ["pyav", "decord"])
@pytest.mark.parametrize("name", list(CONTAINER_VIDEOS))
def test_random_access_equals_sequential_decoding(container_videos, name, backend):
    path = container_videos[name]
    reference = sequential(path)
    assert len(reference) == CONTAINER_VIDEOS[name][1]
    points = probe_points(len(reference), CONTAINER_VIDEOS[name][4])
    # pyav converts colours as the reference does: identical; decord's conversion differs by rounding
    tolerance = 0.0 if backend == "pyav" else 1.0
    for i in points:  # a fresh reader per frame: a cold seek each time, as the loader opens per clip
        with open_video(path, backend) as reader:
            assert reader.num_frames == len(reference)
            assert mean_diff(reader.read([i]).numpy()[0], reference[i]) <= tolerance, f"frame {i}"
    rng = random.Random(0)
    with open_video(path, backend) as reader:  # one reader, clips in any order, backwards seeks
        for _ in range(4):
            clip = sorted(rng.sample(range(len(reference)), 6))
            frames = reader.read(clip[::-1]).numpy()
            for frame, i in zip(frames, clip[::-1]):
                assert mean_diff(frame, reference[i]) <= tolerance, f"frame {i} of clip {clip}"


@pytest.mark.parametrize("name, decord_serves", [
    ("vp9.webm", True), ("h264_open_gop.mp4", False), ("h264_open_gop.mkv", False), ("mpeg4_bframes.mkv", False),
    ("mpeg4_bframes.avi", False), ("msmpeg4.avi", False), ("mjpeg.avi", False),
])
def test_decord_serves_only_what_it_reads_exactly(container_videos, name, decord_serves):
    with DecordReader(container_videos[name]) as reader:
        assert (reader.delegated is None) == decord_serves
        reason = reader.delegated or ""
    assert ("avi" in reason) == name.endswith(".avi")
    assert ("open GOP" in reason) == (not decord_serves and not name.endswith(".avi"))


def test_decord_serves_closed_gop_bframes(videos):
    with DecordReader(videos["h264_bframes.mp4"]) as reader:
        assert reader.delegated is None and reader._reader is not None


def test_avi_seeks_to_the_nearest_keyframe(container_videos):
    """Decode-order seeking lands on the keyframe before the frame, not one keyframe late or early,
    even where keyframes follow each other (frames 0, 1 and 24-26 are keyframes)."""
    with PyAVReader(container_videos["mpeg4_bframes.avi"]) as reader:
        assert reader.decode_order and {0, 1, 24, 25, 26} <= set(reader._keyframes)
        for first in (0, 1, 5, 25, 26, 30, 47):
            before = reader.frames_decoded
            reader.read([first])
            keyframe = max(k for k in reader._keyframes if k <= first)
            assert reader.last_keyframe == keyframe
            assert reader.frames_decoded - before <= first - keyframe + 3  # the decoder's reorder delay


def test_decord_that_cannot_open_a_file_pyav_reads_delegates(videos, monkeypatch):
    import decord

    def refuse(*args, **kwargs):
        raise decord.DECORDError("ERROR opening: cannot find a decoder")

    monkeypatch.setattr(decord, "VideoReader", refuse)
    path = videos["h264_bframes.mp4"]
    with DecordReader(path) as reader:
        assert reader.delegated.startswith("decord cannot open it: DECORDError")
        assert np.array_equal(reader.read([31, 0]).numpy(), sequential(path)[[31, 0]])
