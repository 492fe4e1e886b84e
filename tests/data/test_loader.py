"""build_loader: batches through a DataLoader (0 and 2 workers), batch sizes per world size,
batches at a requested sub-network config, and derive_input on loader batches."""
import pytest
import torch
from torch.utils.data import DistributedSampler

from mutualnet_video.config import SubnetConfig
from mutualnet_video.data import build, build_loader, derive_input, set_epoch

from .conftest import BAD_VIDEOS, tiny_cfg


@pytest.mark.parametrize("workers", [0, 2])
def test_train_batches(kinetics_dir, workers):
    cfg = tiny_cfg(kinetics_dir, **{"DATA_LOADER.NUM_WORKERS": workers, "TRAIN.BATCH_SIZE": 2})
    loader = build_loader(cfg, "train")
    # Workers are forked from a process that has decoded already (as with DATA.DECODE_ONCE). PyAV >= 17
    # converts frames to RGB on a thread pool by default, and a worker that inherited one hung for
    # ever (av 18.1.1): the decoder converts on one thread. A hang fails here after 60 s.
    loader.dataset[0]
    loader.timeout = 60 if workers else 0
    batches = list(loader)
    assert len(batches) == 2
    for inputs, labels, indices, meta in batches:
        assert inputs.shape == (2, 3, 8, 48, 48) and inputs.dtype == torch.float32
        assert labels.dtype == torch.int64 and torch.equal(labels, indices)  # label i for video i
        assert torch.equal(meta["video_index"], indices) and meta["skipped"].tolist() == [0, 0]
    assert sorted(torch.cat([b[2] for b in batches]).tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("workers", [0, 2])
def test_test_batches_in_order(kinetics_dir, workers):
    loader = build_loader(tiny_cfg(kinetics_dir, **{"DATA_LOADER.NUM_WORKERS": workers}), "test")
    indices = torch.cat([indices for _, _, indices, _ in loader])
    assert indices.tolist() == list(range(24))  # 4 videos x 2 views x 3 crops, batches of 6
    assert loader.dataset.num_videos == 4 and loader.batch_size == 6


def test_skipped_videos_counted_across_workers(mixed_dir):
    # each worker learns on its own which videos are broken: a generous retry budget
    cfg = tiny_cfg(mixed_dir, **{"DATA_LOADER.NUM_WORKERS": 2, "TRAIN.BATCH_SIZE": 3, "DATA.NUM_RETRIES": 30})
    skipped = sum(int(meta["skipped"].sum()) for _, labels, _, meta in build_loader(cfg, "train"))
    assert skipped >= len(BAD_VIDEOS)  # each broken video was replaced (counted in the workers)


@pytest.mark.parametrize("split, batch", [("test", 6), ("train", 4)])
def test_batches_at_a_sub_network_config(kinetics_dir, split, batch):
    sub = SubnetConfig(0.5, 32, 4)
    inputs, labels, _, _ = next(iter(build_loader(tiny_cfg(kinetics_dir), split, sub=sub)))
    assert inputs.shape == (batch, 3, 4, 32, 32) and labels.shape == (batch,)


def test_slowfast_batches_and_derive_input(kinetics_dir):
    cfg = tiny_cfg(kinetics_dir, **{"MODEL.ARCH": "slowfast", "SLOWFAST.ALPHA": 4})
    (slow, fast), _, _, _ = next(iter(build_loader(cfg, "train")))
    assert slow.shape == (4, 3, 2, 48, 48) and fast.shape == (4, 3, 8, 48, 48)
    sub_slow, sub_fast = derive_input([slow, fast], SubnetConfig(0.5, 32, 1), reduce_pathways=(0,))
    assert sub_slow.shape == (4, 3, 1, 32, 32) and sub_fast is fast
    both = derive_input([slow, fast], SubnetConfig(0.5, 32, 1), reduce_pathways=(0, 1))
    assert both[1].shape == (4, 3, 4, 32, 32)  # the Fast pathway keeps its alpha ratio


def test_derive_input_on_loader_batches(kinetics_dir):
    inputs, _, _, _ = next(iter(build_loader(tiny_cfg(kinetics_dir), "train")))
    derived = derive_input(inputs, SubnetConfig(0.25, 24, 3))
    assert derived.shape == (4, 3, 3, 24, 24)
    assert torch.equal(derive_input(inputs, SubnetConfig(1.0, 48, 8)), inputs)


def test_derived_frames_keep_a_constant_stride_when_counts_divide():
    clip = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(2, 3, 8, 4, 4)  # frame t holds the value t
    picked = lambda frames: derive_input(clip, SubnetConfig(0.5, 4, frames))[0, 0, :, 0, 0].tolist()
    assert picked(4) == [1, 3, 5, 7] and picked(2) == [2, 6]  # segment centres, stride 2 and 4
    six = picked(6)
    assert six == sorted(set(six)) and six[0] >= 0 and six[-1] <= 7  # in order, no repeats


def test_batch_size_divided_by_world_size(kinetics_dir, monkeypatch):
    monkeypatch.setattr(build, "_world", lambda: (2, 1))
    loader = build_loader(tiny_cfg(kinetics_dir), "train")
    assert loader.batch_size == 2 and isinstance(loader.sampler, DistributedSampler)
    assert (loader.sampler.num_replicas, loader.sampler.rank) == (2, 1)
    set_epoch(loader, 3)
    assert loader.sampler.epoch == 3
    assert build_loader(tiny_cfg(kinetics_dir), "test").batch_size == 3
    with pytest.raises(ValueError, match="TEST.BATCH_SIZE=5 is not divisible by the world size 2"):
        build_loader(tiny_cfg(kinetics_dir, **{"TEST.BATCH_SIZE": 5}), "test")


def test_small_train_split_keeps_partial_batch(kinetics_dir, caplog):
    loader = build_loader(tiny_cfg(kinetics_dir, **{"TRAIN.BATCH_SIZE": 8}), "train")
    assert not loader.drop_last and len(list(loader)) == 1
    assert "fewer than one batch" in caplog.text
