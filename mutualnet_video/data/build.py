"""``build_dataset`` / ``build_loader``: the data set named by ``TRAIN.DATASET`` / ``TEST.DATASET``.

Batch sizes follow PySlowFast: train and val take ``TRAIN.BATCH_SIZE``, test ``TEST.BATCH_SIZE``,
divided by the world size when ``torch.distributed`` is initialized (each rank then reads its shard
through a ``DistributedSampler``; call ``set_epoch(loader, epoch)`` every epoch to reshuffle).
"""
import logging
from typing import Optional, Tuple

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from ..config.subnet import SubnetConfig
from .collate import collate
from .dataset import DATASETS, SPLITS, VideoClipDataset

logger = logging.getLogger(__name__)


def build_dataset(cfg, split: str, sub: Optional[SubnetConfig] = None) -> VideoClipDataset:
    """The data set of ``split`` (``train``, ``val``: ``TRAIN.DATASET``; ``test``: ``TEST.DATASET``).

    ``sub``: serve the inputs of that sub-network config (see ``VideoClipDataset``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name not in DATASETS:
        raise ValueError(f"{key} must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name](cfg, split, sub=sub)


def _world() -> Tuple[int, int]:
    """``(world size, rank)`` of the initialized process group, else ``(1, 0)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def build_loader(cfg, split: str, sub: Optional[SubnetConfig] = None) -> DataLoader:
    """A ``DataLoader`` of ``(inputs, labels, indices, meta)`` batches for ``split``.

    Inputs are ``(N, C, T, H, W)`` (or ``[slow, fast]``); with ``sub``, at ``sub.frames`` x ``sub.crop``
    (for test: every view, as the evaluator averages them; for train: augmented clips, for BN
    calibration). Train shuffles and drops the last partial batch; val and test keep the order.
    """
    dataset = build_dataset(cfg, split, sub)
    world, rank = _world()
    total = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    key = "TEST.BATCH_SIZE" if split == "test" else "TRAIN.BATCH_SIZE"
    if total % world:
        raise ValueError(f"{key}={total} is not divisible by the world size {world}")
    batch_size = total // world
    train = split == "train"
    drop_last = train and len(dataset) >= batch_size * world
    if train and not drop_last:
        logger.warning("train split has %d items, fewer than one batch of %d: keeping the partial batch",
                       len(dataset), total)
    sampler = None
    if world > 1:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=train)
    workers = cfg.DATA_LOADER.NUM_WORKERS
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available(),
        drop_last=drop_last,
        persistent_workers=workers > 0,
        collate_fn=collate,
    )


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Reshuffle a distributed loader for ``epoch`` (no-op for a single process)."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
