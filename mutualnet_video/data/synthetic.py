"""Synthetic videos for tests and benchmarks: a moving pattern, written with any FFmpeg encoder.

Example::

    write_video("clip.mp4", moving_pattern(300, 320, 240), fps=30)             # H.264 with B-frames
    write_video("clip.webm", moving_pattern(32, 96, 64), fps=30, codec="libvpx-vp9")
"""
from fractions import Fraction
from typing import Dict, Iterable, Iterator, Optional, Sequence, Union

import numpy as np


def moving_pattern(num_frames: int, width: int, height: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``num_frames`` RGB ``uint8 (height, width, 3)`` frames: drifting waves, a fixed texture and a
    moving square, so that every frame differs (and codecs use motion and B-frames as on real video)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = rng.integers(0, 40, (height, width, 3)).astype(np.float32)
    side = max(min(width, height) // 6, 2)
    for i in range(num_frames):
        image = np.stack([
            127 + 100 * np.sin((xx + 3 * i) / 23.0 + seed),
            127 + 100 * np.sin((yy - 2 * i) / 17.0),
            127 + 100 * np.sin((xx + yy + 5 * i) / 31.0),
        ], axis=-1) + texture
        cx = int(width / 2 + width / 3 * np.sin(i / 15.0))
        cy = int(height / 2 + height / 3 * np.cos(i / 11.0))
        image[max(cy - side, 0) : cy + side, max(cx - side, 0) : cx + side] = (250, 30, 30)
        yield np.clip(image, 0, 255).astype(np.uint8)


def write_video(
    path: str,
    frames: Iterable[Union[np.ndarray, "av.VideoFrame"]],
    fps: Union[int, float, Fraction] = 30,
    codec: str = "libx264",
    options: Optional[Dict[str, str]] = None,
    container_format: Optional[str] = None,
    timestamps_ms: Optional[Sequence[int]] = None,
    threads: int = 0,
    keyframes: Sequence[int] = (),
) -> int:
    """Encode frames (RGB ``uint8 (H, W, 3)`` arrays or ``av.VideoFrame``, even H and W) to ``path``
    as yuv420p; returns the frame count.

    ``codec`` is an FFmpeg encoder (``libx264``, ``libvpx-vp9``, ``mpeg4``...), ``options`` its
    private options (e.g. ``{"x264-params": "bframes=3:keyint=12"}``); the container follows the
    file extension unless ``container_format`` is given. ``timestamps_ms``: presentation time of
    each frame in milliseconds, for a variable frame rate (``fps`` is then only nominal); else frame
    ``i`` is at ``i / fps``. ``threads``: encoder threads (0: the codec's default). ``keyframes``:
    indices of frames forced to be keyframes (besides the encoder's own), as at scene cuts.
    """
    import av

    count, rate = 0, Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format=container_format) as container:
        stream = None
        for frame in frames:
            if isinstance(frame, np.ndarray):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if stream is None:
                if frame.width % 2 or frame.height % 2:
                    raise ValueError(f"yuv420p needs even dimensions, got {frame.width}x{frame.height}")
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                if threads:
                    stream.codec_context.thread_count = threads
                stream.options = dict(options or {})
                if timestamps_ms is not None:
                    stream.codec_context.time_base = Fraction(1, 1000)
            if timestamps_ms is not None:
                frame.pts, frame.time_base = int(timestamps_ms[count]), Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = count, 1 / rate
            if count in keyframes:
                frame.pict_type = av.video.frame.PictureType.I
            container.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise ValueError("no frames to encode")
        container.mux(stream.encode(None))
    return count
