"""Batching items: ``torch``'s ``default_collate``, without copying clips that already form a batch.

``VideoClipDataset.__getitems__`` normalises the clips of a batch straight into one
``(N, C, T, H, W)`` tensor and gives each item a view of it; stacking them again would copy the whole
batch (38 MB for 4 X3D-M clips, about a tenth of the loader's time on a 2-core machine). ``collate``
returns that tensor instead. Any other batch (items from ``dataset[i]``, SlowFast's Slow pathway,
sub-network inputs) is stacked as ``default_collate`` does.

``BatchBuffers`` recycles the memory of those batch tensors once nothing refers to them any more: a
fresh batch is above glibc's largest mmap threshold (32 MB), so every new one is mapped and
page-faulted again (about 1 ms per 2 MB here).
"""
import sys
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data._utils.collate import collate as _collate
from torch.utils.data._utils.collate import collate_tensor_fn, default_collate_fn_map


class BatchBuffers:
    """Float32 batch tensors whose memory is reused once every tensor and view of it is gone.

    Each tensor wraps a numpy array kept here; the array's reference count tells whether any tensor
    still uses it (torch holds a reference to the array for as long as its storage lives).
    ``per_shape``: arrays kept per shape (more are allocated, not kept, while all are in use).
    """

    def __init__(self, per_shape: int = 2):
        self.per_shape = per_shape
        self._arrays: Dict[Tuple[int, ...], List[np.ndarray]] = {}

    def get(self, shape: Tuple[int, ...]) -> torch.Tensor:
        """An uninitialised float32 tensor of ``shape``, in recycled memory when some is free."""
        arrays = self._arrays.setdefault(tuple(shape), [])
        for i in range(len(arrays)):
            if sys.getrefcount(arrays[i]) == 2:  # only the list and getrefcount's argument: free
                return torch.from_numpy(arrays[i])
        array = np.empty(shape, dtype=np.float32)
        if len(arrays) < self.per_shape:
            arrays.append(array)
        return torch.from_numpy(array)

    def __getstate__(self):  # a copy of the data set (DataLoader workers) starts with no buffers
        return {"per_shape": self.per_shape, "_arrays": {}}


def batch_of_views(tensors: Sequence[torch.Tensor]) -> Any:
    """The tensor whose ``[0], [1], ...`` the ``tensors`` are, in order, or None."""
    base = tensors[0]._base
    if base is None or base.dim() != tensors[0].dim() + 1 or base.shape[0] != len(tensors):
        return None
    for i, tensor in enumerate(tensors):
        if tensor._base is not base or tensor.data_ptr() != base[i].data_ptr() or tensor.stride() != base[i].stride():
            return None
    return base


def collate_tensors(batch: List[torch.Tensor], *, collate_fn_map=None) -> torch.Tensor:
    """``default_collate`` of tensors: the batch tensor of ``batch_of_views``, else a stack."""
    base = batch_of_views(batch)
    return base if base is not None else collate_tensor_fn(batch, collate_fn_map=collate_fn_map)


COLLATE_FN_MAP = {**default_collate_fn_map, torch.Tensor: collate_tensors}


def collate(batch: List[Any]) -> Any:
    """``default_collate(batch)``; clips that are the rows of one batch tensor are not copied."""
    return _collate(batch, collate_fn_map=COLLATE_FN_MAP)
