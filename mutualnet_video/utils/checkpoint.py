"""Saving and loading checkpoints: PySlowFast's ``.pyth`` layout, written atomically, read safely.

A checkpoint is the dict PySlowFast writes::

    {"epoch": int, "model_state": state dict, "optimizer_state": dict or None,
     "cfg": YAML text (cfg.dump()), **extra}   # extra: scheduler_state, scaler_state, rng_state, ...

under ``OUTPUT_DIR/checkpoints/checkpoint_epoch_{epoch:05d}.pyth``. Parameter names are
pytorchvideo's (our models keep them), so our checkpoints and pytorchvideo model-zoo files are one
format. Loading weights into a model, from our files or either model zoo's, is ``models.loading``.

Files are read with ``torch.load(weights_only=True)`` only: a file that needs arbitrary pickled
objects is refused (unpickling them would run code from the file), never retried unsafely. So
``save_checkpoint`` checks that everything it writes is plain data (tensors, numbers, strings,
lists, tuples, sets, dicts) before writing.
"""
import os
import pickle
import re
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch
import torch.nn as nn

from .atomic import atomic_output
from .distributed import unwrap

CHECKPOINT_SUBDIR = "checkpoints"
_CHECKPOINT_NAME = re.compile(r"^checkpoint_epoch_(\d+)\.pyth$")
_CHECKPOINT_KEYS = ("epoch", "model_state", "optimizer_state", "cfg")
# Keys load_checkpoint adds to what it returns; save_checkpoint refuses them as extras.
LOAD_INFO_KEYS = ("format", "missing_keys", "unexpected_keys", "folded_keys", "optimizer_loaded")

_PLAIN_LEAVES = (int, float, bool, complex, str, bytes, bytearray, type(None), torch.Size, torch.dtype, torch.device)
_PLAIN_SEQUENCES = (list, tuple, set)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit the model; the message says which keys/why."""


# ------------------------------------------------------------------------------------- paths
def checkpoint_path(output_dir: str, epoch: int) -> str:
    """``OUTPUT_DIR/checkpoints/checkpoint_epoch_{epoch:05d}.pyth``."""
    return os.path.join(output_dir, CHECKPOINT_SUBDIR, f"checkpoint_epoch_{epoch:05d}.pyth")


def get_last_checkpoint(output_dir: str) -> Optional[str]:
    """The checkpoint with the highest epoch in ``OUTPUT_DIR/checkpoints`` (None if there is
    none). Temporary files of an interrupted save never match the name pattern."""
    directory = os.path.join(output_dir, CHECKPOINT_SUBDIR)
    if not os.path.isdir(directory):
        return None
    epochs = {}
    for name in os.listdir(directory):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            epochs[int(match.group(1))] = name
    return os.path.join(directory, epochs[max(epochs)]) if epochs else None


def has_checkpoint(output_dir: str) -> bool:
    """Whether ``OUTPUT_DIR/checkpoints`` holds a checkpoint to resume from."""
    return get_last_checkpoint(output_dir) is not None


# -------------------------------------------------------------------------------------- save
def save_checkpoint(path: str, model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
                    epoch: int = 0, cfg: Any = None, **extra: Any) -> str:
    """Write ``{"epoch", "model_state", "optimizer_state", "cfg", **extra}`` to ``path``; return it.

    ``model`` may be wrapped in (Distributed)DataParallel: the inner model's state is saved, so
    names never start with ``module.``. ``cfg`` (a CfgNode) is stored as its YAML text. Extras must
    be plain data (tensors, numbers, strings, lists, tuples, sets, dicts; e.g. ``rng_state`` as
    tensors/lists, not numpy arrays): anything else raises ``TypeError`` before the file is touched.

    Atomic: the checkpoint is written to a temporary file in the same directory, flushed and
    fsync'ed, then renamed over ``path``; a crash leaves ``path`` absent or as it was before.
    """
    clash = sorted(set(extra) & set(_CHECKPOINT_KEYS + LOAD_INFO_KEYS))
    if clash:
        raise ValueError(f"save_checkpoint: extra entries may not be named {clash} (reserved)")
    checkpoint = {
        "epoch": epoch,
        "model_state": unwrap(model).state_dict(),
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "cfg": cfg.dump() if hasattr(cfg, "dump") else cfg,
        **extra,
    }
    return atomic_save(checkpoint, path)


def atomic_save(obj: Dict[str, Any], path: str) -> str:
    """``torch.save`` plain data to ``path`` atomically (``utils.atomic``); return ``path``."""
    for key, value in obj.items():
        _check_plain(value, key)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return path


def update_checkpoint(path: str, **entries: Any) -> str:
    """Add or replace top-level entries of an existing checkpoint (e.g. ``bn_bank``), atomically."""
    checkpoint = read_checkpoint(path)
    checkpoint.update(entries)
    return atomic_save(checkpoint, path)


def read_entry(path: str, key: str, default: Any = None) -> Any:
    """One top-level entry of a checkpoint file (read safely), or ``default``."""
    checkpoint = read_checkpoint(path)
    return checkpoint.get(key, default) if isinstance(checkpoint, dict) else default


def _check_plain(obj: Any, where: str) -> None:
    """Raise ``TypeError`` naming ``where`` if ``obj`` holds anything weights_only loading refuses."""
    if isinstance(obj, torch.Tensor) or type(obj) in _PLAIN_LEAVES:
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            _check_plain(key, f"{where} (a key)")
            _check_plain(value, f"{where}[{key!r}]")
        return
    if type(obj) in _PLAIN_SEQUENCES:
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"save_checkpoint: {where} is a {type(obj).__module__}.{type(obj).__qualname__}, which "
        f"torch.load(weights_only=True) cannot read back; store tensors, numbers, strings, lists, "
        f"tuples, sets or dicts instead (e.g. a numpy array as torch.from_numpy(a) or a.tolist())"
    )


def read_checkpoint(path: str) -> Any:
    """``torch.load(weights_only=True)`` with errors that say what is wrong with the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as e:
        detail = re.search(r"WeightsUnpickler error: (.*?)(?: was not an allowed global|\. |\n|$)", str(e))
        if detail is None and "Weights only load failed" not in str(e):
            raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
        raise CheckpointError(
            f"{path}: the file contains pickled Python objects"
            f"{f' ({detail.group(1)})' if detail else ''} that only arbitrary code execution can "
            f"rebuild; this loader reads weights_only files and refuses to execute them. If you "
            f"trust the file, convert it once to plain tensors and load the result:\n"
            f"  python -c \"import torch; c = torch.load('{path}', map_location='cpu', weights_only=False); "
            f"torch.save({{'model_state': c['model_state'] if 'model_state' in c else c}}, 'converted.pyth')\"\n"
            f"(PySlowFast's Caffe2 .pkl zoo files, a dict of numpy 'blobs', are another format: load one in "
            f"PySlowFast with TRAIN.CHECKPOINT_TYPE caffe2 and save it as .pyth first.)"
        ) from None
    except Exception as e:  # truncated zip, EOF, not a torch file at all
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated, corrupt or not a torch checkpoint "
            f"({type(e).__name__}: {e})"
        ) from e
