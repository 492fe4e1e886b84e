"""Batches without a copy: ``__getitems__`` writes clips into one batch tensor, ``collate`` returns it
unchanged, ``BatchBuffers`` recycles its memory only when nothing uses it; the batches equal stacking
``dataset[i]``."""
import torch
from torch.utils.data import default_collate

from mutualnet_video.data import build_dataset, build_loader
from mutualnet_video.data.collate import BatchBuffers, collate

from .conftest import tiny_cfg


def test_batch_items_are_views_of_one_tensor_collated_without_copy(kinetics_dir):
    dataset = build_dataset(tiny_cfg(kinetics_dir), "test")  # deterministic views: comparable
    items = dataset.__getitems__([0, 7, 13])
    base = items[0][0]._base
    assert base is not None and base.shape == (3, 3, 8, 56, 56)
    inputs, labels, indices, meta = collate(items)
    assert inputs is base
    reference = default_collate([dataset[i] for i in (0, 7, 13)])
    assert torch.equal(inputs, reference[0]) and torch.equal(labels, reference[1])
    assert torch.equal(indices, reference[2]) and meta.keys() == reference[3].keys()
    assert all(torch.equal(meta[k], reference[3][k]) for k in meta)


def test_collate_stacks_what_is_not_one_batch():
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(collate([(a, 0), (b, 1)])[0], torch.stack([a, b]))
    base = torch.randn(3, 2, 3)
    swapped = collate([base[1], base[0], base[2]])  # rows out of order: a copy, in the items' order
    assert swapped is not base and torch.equal(swapped, base[[1, 0, 2]])
    assert collate([base[0], base[1], base[2]]) is base
    assert collate([base[0], base[1]]) is not base  # not every row


def test_batch_buffers_reuse_only_unused_memory():
    buffers = BatchBuffers(per_shape=2)
    first = buffers.get((2, 3))
    address = first.data_ptr()
    row = first[1]
    del first
    second = buffers.get((2, 3))  # the row keeps the first in use
    assert second.data_ptr() != address
    del row, second
    assert buffers.get((2, 3)).data_ptr() in {address, buffers._arrays[(2, 3)][1].ctypes.data}
    assert buffers.get((4, 3)).shape == (4, 3)


def test_loader_batches_reuse_memory_and_stay_intact(kinetics_dir):
    loader = build_loader(tiny_cfg(kinetics_dir), "test")
    kept = [batch[0] for batch in loader]  # held batches are never overwritten
    dataset = loader.dataset
    for k, inputs in enumerate(kept):
        assert torch.equal(inputs, torch.stack([dataset[i][0] for i in range(6 * k, 6 * k + 6)]))
    assert len({inputs.data_ptr() for inputs in kept}) == len(kept) == 4
    del kept, inputs
    pooled = {array.ctypes.data for arrays in dataset._batches._arrays.values() for array in arrays}
    addresses = {batch[0].data_ptr() for batch in loader}  # each batch dropped after the next is made
    assert len(pooled) == 2 and addresses == pooled
