"""Process groups and the few collectives the trainer needs.

A run is one process (CPU or one GPU), or several ranks started either by ``torchrun`` (which sets
RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT, on one or many machines) or by
``launch_job`` itself for ``NUM_GPUS > 1`` (one process per GPU on this machine; with
``NUM_SHARDS > 1`` each machine runs the same command with its own ``SHARD_ID``, as in PySlowFast).
GPUs talk through NCCL (``DIST_BACKEND``), CPU ranks through gloo.
"""
import logging
import os
import socket
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config import ConfigError

logger = logging.getLogger(__name__)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_master_proc() -> bool:
    """True on the process that writes logs and checkpoints (global rank 0)."""
    return get_rank() == 0


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def get_device(cfg: CfgNode) -> torch.device:
    """``cuda:LOCAL_RANK`` if ``NUM_GPUS > 0`` else the CPU."""
    if cfg.NUM_GPUS == 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"NUM_GPUS is {cfg.NUM_GPUS} but CUDA is not available; set NUM_GPUS 0 to run on CPU")
    return torch.device("cuda", get_local_rank())


def to_device(x, device: torch.device):
    """A tensor, or a list of tensors (SlowFast pathways), on ``device`` (asynchronous copies from
    pinned memory on CUDA)."""
    if isinstance(x, (list, tuple)):
        return [t.to(device, non_blocking=True) for t in x]
    return x.to(device, non_blocking=True)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (a new tensor; the input itself when not distributed)."""
    if get_world_size() == 1:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over ranks."""
    return all_reduce_sum(tensor) / get_world_size()


def wrap_ddp(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model``.

    ``find_unused_parameters`` stays False: a slim layer computes with a slice of its full
    parameter, so every parameter receives a gradient (zero outside the slice) in every forward,
    at every width. Gradient accumulation over the configs of a step uses ``no_sync`` (see
    ``engine.step``), so gradients are all-reduced once per optimizer step.
    """
    if not is_distributed():
        return model
    if device.type == "cuda":
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index], output_device=device.index)
    return nn.parallel.DistributedDataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside (Distributed)DataParallel wrappers."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


def launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group(cfg: CfgNode, rank: int, world_size: int, init_method: str = "env://") -> None:
    """Join the process group: NCCL (``DIST_BACKEND``) for GPU runs, gloo for CPU runs."""
    backend = cfg.DIST_BACKEND if cfg.NUM_GPUS > 0 else "gloo"
    if cfg.NUM_GPUS > 0:
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(backend=backend, init_method=init_method, world_size=world_size, rank=rank)


def _spawned_worker(local_rank: int, func: Callable, cfg: CfgNode, init_method: str) -> None:
    world_size = cfg.NUM_GPUS * cfg.NUM_SHARDS
    rank = cfg.SHARD_ID * cfg.NUM_GPUS + local_rank
    os.environ.update(LOCAL_RANK=str(local_rank), RANK=str(rank), WORLD_SIZE=str(world_size))
    init_process_group(cfg, rank, world_size, init_method)
    try:
        func(cfg)
    finally:
        dist.destroy_process_group()


def launch_job(cfg: CfgNode, func: Callable[[CfgNode], None], init_method: Optional[str] = None) -> None:
    """Run ``func(cfg)`` on every rank of this machine.

    - under ``torchrun``: this process is one rank; the group is read from the environment;
    - ``NUM_GPUS > 1``: spawn ``NUM_GPUS`` processes. With one shard they meet on a free local
      port; with ``NUM_SHARDS > 1`` at ``init_method`` (e.g. ``tcp://host:port``, the same on every
      machine) or, if None, at MASTER_ADDR / MASTER_PORT;
    - otherwise: ``func(cfg)`` in this process, without a process group.
    """
    if launched_by_torchrun():
        init_process_group(cfg, int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]))
        try:
            func(cfg)
        finally:
            dist.destroy_process_group()
    elif cfg.NUM_GPUS > 1 or cfg.NUM_SHARDS > 1:
        if cfg.NUM_GPUS == 0:
            raise ConfigError("NUM_SHARDS > 1 needs NUM_GPUS > 0; for several CPU processes use torchrun")
        if init_method is None:
            if cfg.NUM_SHARDS == 1:
                init_method = f"tcp://127.0.0.1:{free_port()}"
            elif not {"MASTER_ADDR", "MASTER_PORT"} <= os.environ.keys():
                raise ConfigError("NUM_SHARDS > 1: pass --init_method tcp://HOST:PORT (the same on every "
                                  "machine) or set MASTER_ADDR and MASTER_PORT, or launch with torchrun")
            else:
                init_method = "env://"
        mp.spawn(_spawned_worker, args=(func, cfg, init_method), nprocs=cfg.NUM_GPUS, join=True)
    else:
        func(cfg)


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenation along dim 0 of every rank's ``tensor`` (sizes along dim 0 may differ), in rank
    order; ``tensor`` itself when not distributed. Gathered on CPU for gloo, on the tensor's device else."""
    if get_world_size() == 1:
        return tensor
    sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device) for _ in range(get_world_size())]
    dist.all_gather(sizes, torch.tensor([tensor.shape[0]], device=tensor.device))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.shape[0]] = tensor
    gathered = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(gathered, padded)
    return torch.cat([g[: int(s.item())] for g, s in zip(gathered, sizes)])
