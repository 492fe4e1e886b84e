"""The clip data set behind every registered data set (Kinetics, SSv2): item -> one clip.

An item is ``(inputs, label, index, meta)``:

- ``inputs``: float ``(C, T, H, W)``, or ``[slow, fast]`` for a two-pathway architecture (SlowFast);
- ``label``: int64 scalar tensor;
- ``index``: the item actually returned (another one if the requested video was unreadable);
- ``meta``: ``video_index``, ``temporal_index``, ``spatial_index`` (``-1`` for the random views of
  train / val) and ``skipped``, the number of unreadable videos replaced to serve this item.

Train and val serve one random view per video (PySlowFast). Test (the videos of ``TEST.SPLIT``:
the test list, or the val list to evaluate test-time views on validation videos) serves every video
``NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS`` times: item ``i`` is video ``i // views``, temporal view
``(i % views) // crops`` and crop ``(i % views) % crops``. Scores are averaged per
``meta["video_index"]`` (the video really served, even after a replacement).

Unreadable videos (missing, empty, truncated, undecodable, not a video) never crash a step: the
reason is logged once per video and process, a random other item is served instead (at most
``DATA.NUM_RETRIES`` times in a row, else ``VideoLoadError`` naming each file and reason), and the
replacement is counted in ``meta["skipped"]``. ``dataset.failures`` and ``dataset.num_skipped`` hold
the same for the current process only: with ``num_workers > 0`` each worker has its own copy, so a
trainer should sum ``meta["skipped"]`` over its batches.
"""
import dataclasses
import logging
import os
import random
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch

from ..config.subnet import SubnetConfig
from ..models.registry import get_arch
from .annotations import DatasetFormatError
from .collate import BatchBuffers
from .decoders import VideoDecodeError, open_video, resolve_backend
from .derive import Inputs, derive_input
from .memory import decoded_video
from .sampling import RANDOM_VIEW, TemporalSampling, pack_pathways
from .transforms import CENTER, SpatialTransform

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DATASETS: Dict[str, Type["VideoClipDataset"]] = {}


def register_dataset(name: str):
    """Class decorator: make a ``VideoClipDataset`` subclass buildable as ``TRAIN.DATASET: name``."""

    def register(cls):
        DATASETS[name] = cls
        return cls

    return register


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One video: a file, or the image files of its frames in order; and its label."""

    source: Union[str, Tuple[str, ...]]
    label: int

    @property
    def name(self) -> str:
        return self.source if isinstance(self.source, str) else os.path.dirname(self.source[0])


class VideoLoadError(RuntimeError):
    """No readable video found within the retry budget: ``failures`` lists ``(path, reason)``."""

    def __init__(self, failures: Sequence[Tuple[str, str]]):
        self.failures = list(failures)
        lines = "\n".join(f"  {path}: {reason}" for path, reason in self.failures)
        super().__init__(
            f"no readable video in {len(self.failures)} attempts (1 + DATA.NUM_RETRIES); "
            f"is the data set readable (paths, DATA.PATH_PREFIX, DATA.DECODING_BACKEND)?\n{lines}"
        )

    def __reduce__(self):
        return VideoLoadError, (self.failures,)


class VideoClipDataset(torch.utils.data.Dataset):
    """Clips of the videos a subclass lists in ``read_records``, sampled as the config says.

    Args:
        cfg: the config (DATA, TEST; MODEL.ARCH names the architecture, whose pathways are packed).
        split: ``train``, ``val`` or ``test``.
        sub: serve the inputs of this sub-network config instead of the full clip: the full clip is
            sampled as usual and reduced with ``derive_input`` (``sub.frames`` frames over the same
            span, resized to ``sub.crop``), exactly as the trainer derives its sub-network inputs.
    """

    #: temporal sampling rule when ``DATA.TEMPORAL_SAMPLING`` is empty
    default_sampling = "clip"

    def __init__(self, cfg, split: str, sub: Optional[SubnetConfig] = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        # Test-time evaluation (multi-view) reads the videos of TEST.SPLIT: test, or val.
        self.annotation_split = cfg.TEST.SPLIT if split == "test" else split
        self.records: List[VideoRecord] = self.read_records(cfg, self.annotation_split)
        if not self.records:
            raise DatasetFormatError(cfg.DATA.PATH_TO_DATA_DIR, 0,
                                     f"no videos listed for split {self.annotation_split!r}")
        test = split == "test"
        self.num_temporal_views = cfg.TEST.NUM_ENSEMBLE_VIEWS if test else 1
        self.num_spatial_crops = cfg.TEST.NUM_SPATIAL_CROPS if test else 1
        if self.num_temporal_views < 1 or not 1 <= self.num_spatial_crops <= 3:
            raise ValueError(
                f"TEST.NUM_ENSEMBLE_VIEWS must be >= 1 and TEST.NUM_SPATIAL_CROPS 1, 2 or 3, got "
                f"{cfg.TEST.NUM_ENSEMBLE_VIEWS} and {cfg.TEST.NUM_SPATIAL_CROPS}"
            )
        self.temporal = TemporalSampling(
            rule=cfg.DATA.TEMPORAL_SAMPLING or self.default_sampling,
            num_frames=cfg.DATA.NUM_FRAMES,
            sampling_rate=cfg.DATA.SAMPLING_RATE,
            target_fps=cfg.DATA.TARGET_FPS,
            num_views=self.num_temporal_views,
            use_offset=cfg.DATA.USE_OFFSET_SAMPLING,
        )
        self.spatial = SpatialTransform.from_cfg(cfg, split)
        self.backend = resolve_backend(cfg.DATA.DECODING_BACKEND)
        self.frame_fps = float(cfg.DATA.TARGET_FPS)  # rate of extracted frames (frame lists)
        self.num_retries = cfg.DATA.NUM_RETRIES
        self.decode_once = cfg.DATA.DECODE_ONCE
        arch = get_arch(cfg.MODEL.ARCH)
        self.frame_ratios, self.reduce_pathways = arch.frame_ratios(cfg), arch.reduce_pathways(cfg)
        self.sub = sub
        self.failures: Dict[str, str] = {}  # this process's unreadable videos: name -> reason
        self.num_skipped = 0  # replacements served by this process
        self._bad_videos = set()
        self._batches = BatchBuffers()
        logger.info("%s %s (%s videos): %d videos, %d items", type(self).__name__, split, self.annotation_split,
                    self.num_videos, len(self))

    @classmethod
    def read_records(cls, cfg, split: str) -> List[VideoRecord]:
        """The split's videos and labels; raises ``DatasetFormatError`` on malformed annotations."""
        raise NotImplementedError

    @property
    def num_videos(self) -> int:
        return len(self.records)

    @property
    def views_per_video(self) -> int:
        return self.num_temporal_views * self.num_spatial_crops

    def __len__(self) -> int:
        return self.num_videos * self.views_per_video

    def video_index(self, index: int) -> int:
        """The video item ``index`` is a view of."""
        return index // self.views_per_video

    def view_of(self, index: int) -> Tuple[int, int, int]:
        """``(video, temporal view, spatial crop)`` of item ``index``; views are -1 (random) outside test."""
        video, view = divmod(index, self.views_per_video)
        if self.split != "test":
            return video, RANDOM_VIEW, RANDOM_VIEW
        return video, view // self.num_spatial_crops, view % self.num_spatial_crops

    def __getitem__(self, index: int) -> Tuple[Inputs, torch.Tensor, int, dict]:
        return self._item(index)

    def __getitems__(self, indices: Sequence[int]) -> List[Tuple[Inputs, torch.Tensor, int, dict]]:
        """``[self[i] for i in indices]`` (``DataLoader`` fetches a batch with it), with the clips written
        straight into one ``(N, 3, T, crop, crop)`` tensor whose rows they are, so that ``collate`` need
        not copy them into a batch. In ``DataLoader`` workers (batches go to shared memory anyway), with
        ``sub`` (derived inputs) and for SlowFast's Slow pathway, the clips are separate tensors."""
        if self.sub is not None or torch.utils.data.get_worker_info() is not None:
            return [self._item(i) for i in indices]
        crop = self.spatial.crop_size
        batch = self._batches.get((len(indices), 3, self.temporal.num_frames, crop, crop))
        return [self._item(i, out=batch[k]) for k, i in enumerate(indices)]

    def _item(self, index: int, out: Optional[torch.Tensor] = None) -> Tuple[Inputs, torch.Tensor, int, dict]:
        """Item ``index``; ``out``: the float ``(3, T, crop, crop)`` tensor to write its clip into."""
        attempts: List[Tuple[str, str]] = []
        while True:
            video, temporal, spatial = self.view_of(index)
            record = self.records[video]
            try:
                frames = self._read(video, record, temporal)
                break
            except VideoDecodeError as e:
                attempts.append((record.name, self.failures[record.name]))
                if len(attempts) > self.num_retries:
                    raise VideoLoadError(attempts) from e
                self.num_skipped += 1
                index = self._replacement()
        position = spatial if self.num_spatial_crops > 1 else CENTER
        if out is not None and out.shape[1] != frames.shape[0]:
            out = None
        inputs = pack_pathways(self.spatial(frames, position, out), self.frame_ratios)
        if self.sub is not None:
            inputs = self._derive(inputs)
        meta = {"video_index": video, "temporal_index": temporal, "spatial_index": spatial,
                "skipped": len(attempts)}
        return inputs, torch.tensor(record.label, dtype=torch.int64), index, meta

    def _read(self, video: int, record: VideoRecord, temporal: int) -> torch.Tensor:
        """Decoded ``uint8 (T, H, W, 3)`` frames of one view; ``VideoDecodeError`` if unreadable."""
        if video in self._bad_videos:
            raise VideoDecodeError(record.name, self.failures[record.name])
        try:
            if self.decode_once:
                frames, fps = decoded_video(record.source, self.backend, self.frame_fps)
                return frames[self.temporal.indices(len(frames), fps, temporal)]
            with open_video(record.source, self.backend, self.frame_fps) as reader:
                return reader.read(self.temporal.indices(reader.num_frames, reader.fps, temporal))
        except VideoDecodeError as e:
            self._bad_videos.add(video)
            reason = e.reason if e.path == record.name else f"{e.path}: {e.reason}"
            self.failures[record.name] = reason
            logger.warning("skipping unreadable video %s: %s (pid %d)", record.name, reason, os.getpid())
            raise

    def _replacement(self) -> int:
        """A random item, preferably of a video not yet known to be unreadable."""
        for _ in range(16):
            index = random.randrange(len(self))
            if self.video_index(index) not in self._bad_videos:
                break
        return index

    def _derive(self, inputs: Inputs) -> Inputs:
        """``derive_input`` on one clip (it works on batches)."""
        if isinstance(inputs, torch.Tensor):
            return derive_input(inputs.unsqueeze(0), self.sub)[0]
        derived = derive_input([x.unsqueeze(0) for x in inputs], self.sub, self.reduce_pathways)
        return [x[0] for x in derived]
