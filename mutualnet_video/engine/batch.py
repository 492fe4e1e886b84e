"""Moving a loader batch to the training device."""
from typing import Union

import torch

from ..data.derive import Inputs


def to_device(x: Union[Inputs, torch.Tensor], device: torch.device) -> Union[Inputs, torch.Tensor]:
    """A tensor, or a list of tensors (SlowFast pathways), on ``device`` (asynchronous copies from
    pinned memory on CUDA)."""
    if isinstance(x, (list, tuple)):
        return [t.to(device, non_blocking=True) for t in x]
    return x.to(device, non_blocking=True)
