"""Decode once, serve from memory (``DATA.DECODE_ONCE``): whole decoded videos kept per process.

For data sets small enough to hold decoded (the embedded synthetic set: about 500 KB a video), the
first read of a video decodes all its frames; every later clip of it, in any loader of the same
process (training, BN calibration, every config of the grid), is indexed from memory. With
``DATA_LOADER.NUM_WORKERS > 0`` each worker holds its own copy, so use it with 0 workers, or with
persistent workers on data that fits once per worker. Nothing is evicted: memory grows to the whole
decoded data set (frames x H x W x 3 bytes per video).
"""
from typing import Dict, Tuple

import torch

from .decoders import Source, open_video

_VIDEOS: Dict[tuple, Tuple[torch.Tensor, float]] = {}


def decoded_video(source: Source, backend: str, frame_fps: float) -> Tuple[torch.Tensor, float]:
    """``(frames uint8 (T, H, W, 3), fps)`` of the whole video, decoded on the first call only.

    Raises ``VideoDecodeError`` as ``open_video`` / ``read`` do (a failed video is not cached).
    """
    key = (source if isinstance(source, str) else tuple(source), backend, frame_fps)
    if key not in _VIDEOS:
        with open_video(source, backend, frame_fps) as reader:
            _VIDEOS[key] = (reader.read(range(reader.num_frames)), reader.fps)
    return _VIDEOS[key]


def clear() -> None:
    """Forget every decoded video of this process."""
    _VIDEOS.clear()
