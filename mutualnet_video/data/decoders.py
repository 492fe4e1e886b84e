"""Video decoders: a source in, the requested frames out as ``uint8`` tensors ``(T, H, W, 3)`` (RGB).

``open_video(source, backend)`` returns a ``VideoReader`` with ``num_frames``, ``fps`` and
``read(frame_indices)``; ``decode`` and ``probe`` are one-call shortcuts. Backends:

- ``pyav``: indexes the frames by demuxing the file once (packets are read, not decoded), then for each
  read seeks to the keyframe at or before the first requested frame and decodes up to the last
  requested frame, converting to RGB only the frames asked for.
- ``decord``: ``decord.VideoReader.get_batch`` where its random access is frame-exact; other files are
  read with ``pyav`` (see ``decord_hazard``).
- a list of image files (extracted frames, e.g. SSv2 with ``DATA.USE_FRAMES``): one file per frame.

Frame-exact: frame ``i`` of ``read`` is frame ``i`` of a plain sequential decode, at any position, for
every container. Frame ``i`` is the ``i``-th frame in presentation order (packets sorted by pts), the
rule decord uses too, so both backends agree on indices and frame counts for B-frame H.264, VP9 webm
without a duration in the header and variable frame rates. AVI has no presentation timestamps (its
index and packets follow decode order; FFmpeg guesses pts from the frame types): there ``pyav`` seeks
by dts and numbers the decoded frames in the order the decoder outputs them, counting from the
keyframe it seeked to. ``fps`` is the stream's average frame rate. Rotation metadata is not applied
(neither decord nor PySlowFast applies it).

Every failure to open or decode raises ``VideoDecodeError`` with the path and a one-line reason.
"""
import bisect
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import av
import numpy as np
import torch

logger = logging.getLogger(__name__)

Source = Union[str, Sequence[str]]  # a video file, or the image files of its frames in order


class VideoDecodeError(RuntimeError):
    """A video cannot be opened or decoded. ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # picklable across DataLoader worker processes
        return VideoDecodeError, (self.path, self.reason)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_file(path: str) -> None:
    """Fail early, with a plain reason, on what decoders report cryptically."""
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file not found")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file")


class VideoReader:
    """An open video. ``num_frames`` and ``fps`` are known on opening; ``read`` decodes frames."""

    path: str
    num_frames: int
    fps: float

    def read(self, frame_indices: Sequence[int]) -> torch.Tensor:
        """Frames at ``frame_indices`` (any order, repeats allowed) as ``uint8 (T, H, W, 3)`` RGB."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_indices(self, frame_indices: Sequence[int]) -> List[int]:
        indices = [int(i) for i in frame_indices]
        if not indices:
            raise ValueError("read() needs at least one frame index")
        bad = [i for i in indices if not 0 <= i < self.num_frames]
        if bad:
            raise IndexError(f"{self.path}: frame indices {bad[:5]} outside [0, {self.num_frames})")
        return indices


class PyAVReader(VideoReader):
    """PyAV decoder that decodes only the span a read needs.

    Args:
        path: video file.
        thread_type: FFmpeg threading for the decoder (``"AUTO"``, ``"FRAME"``, ``"SLICE"``,
            ``"NONE"``), or ``None`` for the default per codec: ``AUTO`` except for H.264/HEVC, which
            keep FFmpeg's slice threading (frame threading costs them more than it gains on clips).
        thread_count: decoder threads (0: FFmpeg picks from the cores).

    Attributes ``frames_decoded`` / ``packets_decoded`` count, over this reader's reads, the frames
    the decoder produced and the packets sent to it; ``last_keyframe`` is the frame the last read
    started decoding from. A read decodes no frame outside ``last_keyframe .. max(indices)``; for
    H.264 / HEVC it also skips, in that span, the unwanted frames no other frame references.
    ``decode_order``: the container's timestamps follow decode order (AVI), so reads seek by dts and
    number frames in output order; ``leading_frames``: see ``_index_frames``.
    """

    # H.264 / HEVC: slice threading beats frame threading on clips, and one packet holds one frame
    # whose reference flag the decoder checks, so unwanted frames can be skipped safely.
    _H26X_CODECS = ("h264", "hevc")
    # Containers whose index and timestamps follow decode order: seek by dts, number frames by output order.
    DECODE_ORDER_FORMATS = ("avi",)

    def __init__(self, path: str, thread_type: Optional[str] = None, thread_count: int = 0):
        _check_file(path)
        self.path = path
        try:
            self._container = av.open(path)
        except Exception as e:  # av.error.* for non-video, truncated or unknown files
            raise VideoDecodeError(path, _reason(e)) from None
        try:
            if not self._container.streams.video:
                raise VideoDecodeError(path, "no video stream")
            self._stream = self._container.streams.video[0]
            self.decode_order = self._container.format.name in self.DECODE_ORDER_FORMATS
            self._index_frames()
            self.fps = self._average_fps()
            ctx = self._stream.codec_context
            if thread_type is not None or ctx.name not in self._H26X_CODECS:
                ctx.thread_type = thread_type or "AUTO"
            ctx.thread_count = thread_count
        except VideoDecodeError:
            self.close()
            raise
        except Exception as e:
            self.close()
            raise VideoDecodeError(path, _reason(e)) from None
        self.frames_decoded = 0
        self.packets_decoded = 0
        self.last_keyframe: Optional[int] = None

    def _index_frames(self) -> None:
        """Presentation timestamps of all frames and which are keyframes, from the packets (not decoded).

        Sets ``_pts`` (sorted), ``_keyframes`` (frame indices), ``_seek_ts`` (keyframe index -> the
        timestamp to seek to it: its pts, or its dts for decode-order containers), ``_keyframe_dts``
        and ``leading_frames``: whether a frame decoded after a keyframe is shown before it (open
        GOPs, B-frames across a keyframe), which breaks decord's random access.
        """
        pts: List[int] = []
        keyframes: Dict[int, int] = {}  # keyframe pts -> dts (or pts)
        first: Dict[int, int] = {}  # the first packet's, should no packet be flagged a keyframe
        self.leading_frames = False
        keyframe_pts = None
        for packet in self._container.demux(self._stream):
            if packet.size == 0:  # the flushing packets at the end
                continue
            t = packet.pts if packet.pts is not None else packet.dts
            if t is None:
                continue
            pts.append(t)
            if not first:
                first[t] = packet.dts if packet.dts is not None else t
            if packet.is_keyframe:
                keyframes.setdefault(t, packet.dts if packet.dts is not None else t)
                keyframe_pts = t
            elif keyframe_pts is not None and t < keyframe_pts:
                self.leading_frames = True
        self._pts = sorted(set(pts))
        if not self._pts:
            raise VideoDecodeError(self.path, "no video frames")
        self.num_frames = len(self._pts)
        keyframes = keyframes or first  # no keyframe flags: start from the top
        self._seek_ts = {bisect.bisect_left(self._pts, t): (dts if self.decode_order else t)
                         for t, dts in keyframes.items()}
        self._keyframe_dts = {i: keyframes[self._pts[i]] for i in self._seek_ts}
        self._keyframes = sorted(self._seek_ts)

    def _average_fps(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate):
            if rate:
                return float(rate)
        span = (self._pts[-1] - self._pts[0]) * float(self._stream.time_base)
        return (self.num_frames - 1) / span if span > 0 else 30.0

    def _ordinal(self, frame) -> int:
        """Index of a decoded frame: its pts in the table (the nearest, if the decoder altered it)."""
        t = frame.pts if frame.pts is not None else frame.dts
        i = bisect.bisect_left(self._pts, t)
        if i == self.num_frames or (i > 0 and t - self._pts[i - 1] < self._pts[i] - t):
            i -= 1
        return i

    def read(self, frame_indices: Sequence[int]) -> torch.Tensor:
        indices = self._check_indices(frame_indices)
        wanted = sorted(set(indices))
        # Seek to the keyframe at or before the first wanted frame. Should the demuxer land after it
        # (open GOPs, odd seek indexes), go back one keyframe at a time.
        k = bisect.bisect_right(self._keyframes, wanted[0]) - 1
        for keyframe in self._keyframes[max(k, 0)::-1]:
            rgb = self._decode_span(keyframe, wanted)
            if rgb is not None:
                self.last_keyframe = keyframe
                return torch.from_numpy(np.stack([rgb[i] for i in indices]))
        raise VideoDecodeError(self.path, f"frame {wanted[0]} cannot be decoded (no keyframe before it)")

    def _decode_span(self, keyframe: int, wanted: List[int]) -> Optional[Dict[int, np.ndarray]]:
        """RGB arrays of the ``wanted`` frames, decoding from ``keyframe``; None if the seek landed elsewhere.

        Decoded frames are numbered by pts, or in decode-order containers by output order from the
        keyframe (the first packet after the seek must then be the keyframe's, by dts, and the first
        frame out a keyframe). Decoding stops once every wanted frame is out: a decoder may output a
        frame before an earlier-numbered one is complete, so reaching the last index is not enough.
        H.264 / HEVC packets of frames not wanted are sent with ``skip_frame="NONREF"``: the decoder
        skips them when no other frame references them (disposable B-frames).
        """
        want = set(wanted)
        ctx = self._stream.codec_context
        count = self.decode_order
        skip_pts = {self._pts[i] for i in want} if ctx.name in self._H26X_CODECS and not count else None
        rgb: Dict[int, np.ndarray] = {}
        size: Dict[str, int] = {}  # the first frame's size: later frames follow it (webm may change size)
        previous = None  # the last frame's index
        landed = False  # the first packet after the seek has been checked
        try:
            self._container.seek(self._seek_ts[keyframe], stream=self._stream)
            for packet in self._container.demux(self._stream):
                if packet.size:
                    if count and not landed:
                        if packet.dts != self._keyframe_dts[keyframe]:
                            return None
                        landed = True
                    self.packets_decoded += 1
                    if skip_pts is not None:
                        wanted_packet = packet.pts is None or packet.pts in skip_pts
                        ctx.skip_frame = "DEFAULT" if wanted_packet else "NONREF"
                for frame in packet.decode():
                    self.frames_decoded += 1
                    if count:
                        if previous is None and keyframe and not frame.key_frame:
                            return None
                        i = keyframe if previous is None else previous + 1
                    else:
                        i = self._ordinal(frame)
                        if previous is None and i > wanted[0]:
                            return None
                        if previous is not None and i < previous:
                            raise VideoDecodeError(
                                self.path, f"frame timestamps out of presentation order (frame {i} decoded after "
                                f"frame {previous}); decode it sequentially or re-encode it")
                    previous = i
                    if i in want and i not in rgb:
                        # one thread: PyAV >= 17 converts on a pool of threads by default, and a loader
                        # worker forked from a process that had converted frames hung in it (av 18.1.1)
                        rgb[i] = frame.to_ndarray(format="rgb24", threads=1, **size)
                        size = size or {"width": frame.width, "height": frame.height}
                        if len(rgb) == len(want):
                            return rgb
        except VideoDecodeError:
            raise
        except Exception as e:  # corrupt packets
            raise VideoDecodeError(self.path, _reason(e)) from None
        finally:
            ctx.skip_frame = "DEFAULT"
        if previous is None:
            raise VideoDecodeError(self.path, "no frame could be decoded")
        return self._all_or_raise(want, rgb)

    def _all_or_raise(self, want: set, rgb: Dict[int, np.ndarray]) -> Dict[int, np.ndarray]:
        missing = sorted(want - rgb.keys())
        if missing:
            raise VideoDecodeError(
                self.path,
                f"frames {missing[:5]}{'...' if len(missing) > 5 else ''} of {self.num_frames} "
                "could not be decoded (truncated or corrupt video)",
            )
        return rgb

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None


def decord_hazard(index: PyAVReader) -> Optional[str]:
    """Why decord's random access would serve wrong frames of this video, or None if it is exact.

    decord numbers the frames it decodes after a seek by their pts, seeking to the keyframe it
    expects before the frame. Measured with decord 0.6 against sequential decoding: it serves frames
    from elsewhere in AVI files (timestamps in decode order; MPEG-4 Part 2 with B-frames) and, in mp4
    and mkv, around the keyframes of streams whose frames decoded after a keyframe are shown before it
    (H.264 open GOPs, MPEG-4 Part 2 B-frames). It is exact on the rest (VP9 webm, closed-GOP H.264
    with B-frames, intra-only and P-only streams). ``index``: the file's ``PyAVReader``.
    """
    if index.decode_order:
        return f"{index._container.format.name} timestamps follow decode order"
    if index.leading_frames:
        return "frames decoded after a keyframe are shown before it (open GOP or B-frames across keyframes)"
    return None


_decord_delegated = set()  # reasons already logged by this process


class DecordReader(VideoReader):
    """decord decoder (``get_batch``), where its random access is frame-exact.

    The file is indexed with ``PyAVReader`` first; when ``decord_hazard`` names a reason (or decord
    counts other frames than PyAV, or cannot open the file), every read goes to that ``PyAVReader``
    instead, with an info message once per reason and process: never a wrong frame without an error.
    decord 0.6 also fails on some frame widths (e.g. 48 or 72 px: "The size must exactly match"); a
    read that decord fails is retried with PyAV, with a warning (once per reason and process).

    Args:
        path: video file.
        num_threads: decoder threads (0: decord picks from the cores).

    ``delegated``: the reason reads go to PyAV, or None when decord serves them.
    """

    def __init__(self, path: str, num_threads: int = 0):
        try:
            import decord  # optional at import time: no wheels on some platforms
        except ImportError as e:
            raise ImportError("DATA.DECODING_BACKEND decord needs the decord package (pip install decord)") from e

        self._pyav = PyAVReader(path)  # raises VideoDecodeError on files PyAV cannot open
        self.path = path
        self.num_frames, self.fps = self._pyav.num_frames, self._pyav.fps
        self._reader = None
        self.delegated = decord_hazard(self._pyav)
        if self.delegated is None:
            try:
                self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=num_threads)
                count, fps = len(self._reader), float(self._reader.get_avg_fps())
            except Exception as e:  # decord.DECORDError and friends, on files PyAV reads
                self._reader, count, fps = None, None, None
                self.delegated = f"decord cannot open it: {_reason(e)[-80:]}"
            if count is not None and count != self.num_frames:
                self._reader = None
                self.delegated = f"decord counts {count} frames, PyAV {self.num_frames}"
            elif count is not None:
                self.fps = fps
        if self.delegated is not None:
            self._log_once(logging.INFO, self.delegated, "decord does not serve %s (%s): reading such files "
                           "with PyAV")

    def _log_once(self, level: int, reason: str, message: str) -> None:
        if reason not in _decord_delegated:
            _decord_delegated.add(reason)
            logger.log(level, message, self.path, reason)

    def read(self, frame_indices: Sequence[int]) -> torch.Tensor:
        indices = self._check_indices(frame_indices)
        if self._reader is None:
            return self._pyav.read(indices)
        try:
            batch = self._reader.get_batch(indices)
        except Exception as e:
            self._log_once(logging.WARNING, _reason(e)[-80:], "decord cannot decode %s (%s); decoding it with PyAV")
            return self._pyav.read(indices)
        # Whatever decord bridge another import set globally (pytorchvideo sets "torch").
        return batch if isinstance(batch, torch.Tensor) else torch.from_numpy(batch.asnumpy())

    def close(self) -> None:
        self._reader = None
        self._pyav.close()


class FrameListReader(VideoReader):
    """Extracted frames, one image file per frame (JPEG/PNG), decoded with ``torchvision.io``.

    Args:
        paths: the image files, in frame order.
        fps: the rate the frames were extracted at (PySlowFast's SSv2 frames: 30).
    """

    def __init__(self, paths: Sequence[str], fps: float):
        if not paths:
            raise VideoDecodeError("<frame list>", "no frames listed")
        self.paths = list(paths)
        self.path = os.path.dirname(self.paths[0]) or self.paths[0]
        self.num_frames = len(self.paths)
        self.fps = float(fps)

    def read(self, frame_indices: Sequence[int]) -> torch.Tensor:
        from torchvision.io import ImageReadMode, decode_image, read_file

        indices = self._check_indices(frame_indices)
        images = {}
        for i in sorted(set(indices)):
            path = self.paths[i]
            try:
                _check_file(path)
                images[i] = decode_image(read_file(path), mode=ImageReadMode.RGB).permute(1, 2, 0)
            except VideoDecodeError:
                raise
            except Exception as e:
                raise VideoDecodeError(path, _reason(e)) from None
        try:
            return torch.stack([images[i] for i in indices])
        except RuntimeError as e:  # frames of different sizes
            raise VideoDecodeError(self.path, _reason(e)) from None


BACKENDS = {"pyav": PyAVReader, "decord": DecordReader}
_ALIASES = {"torchvision": "pyav"}  # PySlowFast's X3D configs name torchvision's (PyAV-based) reader
_warned_aliases = set()


def resolve_backend(name: str) -> str:
    """The backend a ``DATA.DECODING_BACKEND`` value means (``torchvision`` -> ``pyav``, warned once)."""
    key = name.strip().lower()
    if key in _ALIASES:
        if key not in _warned_aliases:
            _warned_aliases.add(key)
            logger.warning("DATA.DECODING_BACKEND %r is read as %r", name, _ALIASES[key])
        key = _ALIASES[key]
    if key not in BACKENDS:
        raise ValueError(
            f"DATA.DECODING_BACKEND must be one of {sorted(BACKENDS) + sorted(_ALIASES)}, got {name!r}"
        )
    return key


def open_video(source: Source, backend: str = "pyav", frame_fps: float = 30.0) -> VideoReader:
    """A ``VideoReader`` for a video file (with ``backend``) or a list of frame image files.

    Raises:
        VideoDecodeError: the source cannot be opened.
    """
    if isinstance(source, (list, tuple)):
        return FrameListReader(source, frame_fps)
    return BACKENDS[resolve_backend(backend)](source)


def probe(source: Source, backend: str = "pyav") -> Tuple[int, float]:
    """``(num_frames, fps)`` of a video, without decoding frames."""
    with open_video(source, backend) as reader:
        return reader.num_frames, reader.fps


def decode(source: Source, frame_indices: Sequence[int], backend: str = "pyav") -> torch.Tensor:
    """Frames ``frame_indices`` of a video as ``uint8 (T, H, W, 3)`` RGB."""
    with open_video(source, backend) as reader:
        return reader.read(frame_indices)
