"""Loading weights into a model: our checkpoints, pytorchvideo's model-zoo files and PySlowFast's own
X3D / SlowFast / Slow files, whose parameter names differ (mapped by ``models.keymaps``). Files are
read by ``utils.checkpoint.read_checkpoint`` (weights only, never arbitrary pickles).
"""
import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..utils.checkpoint import CheckpointError, read_checkpoint
from ..utils.distributed import unwrap
from .keymaps import ShortcutFold, fold_shortcut_bn, pyslowfast_map

logger = logging.getLogger(__name__)

_PYTORCHVIDEO_KEY = re.compile(r"^blocks\.\d+\.")
_PYSLOWFAST_KEY = re.compile(r"^(s\d+(_fuse)?|head)\.")
_WRAPPER_PREFIXES = ("module.", "model.")  # (Distributed)DataParallel; PySlowFast's PTV* wrappers


def load_checkpoint(path: str, model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
                    strict: bool = True, new_classifier: bool = False) -> Dict[str, Any]:
    """Load the weights in ``path`` into ``model`` (and the optimizer state into ``optimizer``).

    Reads our checkpoints, pytorchvideo model-zoo files (``{"model_state": ...}`` or a bare state
    dict, pytorchvideo names) and PySlowFast's X3D / SlowFast / Slow files (PySlowFast names, mapped
    by ``models.keymaps``; the one shortcut BN pytorchvideo's X3D lacks is folded, exact in eval
    mode). ``module.`` / ``model.`` prefixes on every key are dropped; a (Distributed)DataParallel
    ``model`` is unwrapped.

    Checks, all raising ``CheckpointError`` with the key names: a tensor whose shape differs from
    the model's (always, except the classifier's with ``new_classifier``: fine-tuning on a data set
    with another number of classes keeps the model's new classifier and reports the file's as
    ``skipped_keys``); keys of the model absent from the file and keys of the file the model has
    no place for (when ``strict``; with ``strict=False`` they are skipped, logged and returned).
    BN ``num_batches_tracked`` counters absent from a file are not counted as missing.

    The optimizer state is restored only from files in our names (PySlowFast's parameter order
    differs) and only if the file has one; ``optimizer_loaded`` says whether it was.

    Returns the checkpoint's other entries (``epoch`` and ``cfg``, None when the file has none, and
    any extras such as ``scheduler_state``) plus: ``format`` ("pytorchvideo" for our files and
    pytorchvideo's, "pyslowfast"), ``missing_keys`` (our names; a PySlowFast shortcut BN to fold,
    having none, under its PySlowFast name), ``unexpected_keys`` (the file's names),
    ``folded_keys`` (the file's BN keys folded into other tensors), ``skipped_keys`` (our names of
    the file's classifier tensors left out by ``new_classifier``), ``optimizer_loaded``.
    """
    checkpoint = read_checkpoint(path)
    if isinstance(checkpoint, dict) and "model_state" in checkpoint:
        state = checkpoint["model_state"]
        info = {k: v for k, v in checkpoint.items() if k not in ("model_state", "optimizer_state")}
    else:
        state, info = checkpoint, {}
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        found = list(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path}: no model weights found (expected a 'model_state' dict of tensors "
                              f"or a bare state dict; found {found})")
    net = unwrap(model)
    state = _strip_wrapper_prefixes(state)
    fmt = _detect_format(state, path)
    model_state = net.state_dict()
    replaceable = _classifier_keys(net) if new_classifier else ()
    if fmt == "pyslowfast":
        state, source_names, unexpected, folded, unfolded, skipped = _from_pyslowfast(
            state, net, model_state, path, replaceable)
    else:
        skipped = _check_shapes(state, model_state, {}, path, replaceable)
        source_names, folded, unfolded = {}, [], []
        unexpected = [k for k in state if k not in model_state]
    if skipped:
        state = {k: v for k, v in state.items() if k not in skipped}
        logger.warning("%s: the classifier has another number of classes; keeping the model's new one "
                       "(skipped %s)", path, ", ".join(skipped))
    missing = [k for k in model_state
               if k not in state and k not in skipped and not k.endswith("num_batches_tracked")] + unfolded
    if missing or unexpected:
        described = [f"{k} (PySlowFast name {source_names[k]})" if k in source_names else k for k in missing]
        message = (f"{path} ({fmt} names) does not fit {type(net).__name__}: "
                   f"{len(missing)} key(s) of the model missing from the file: {_short(described)}; "
                   f"{len(unexpected)} key(s) of the file with no place in the model: {_short(unexpected)}")
        if strict:
            raise CheckpointError(message + " (strict=False skips them)")
        logger.warning("%s; loading the rest (strict=False)", message)
    net.load_state_dict({k: v for k, v in state.items() if k in model_state}, strict=False)
    optimizer_loaded = False
    if optimizer is not None:
        optimizer_state = checkpoint.get("optimizer_state") if isinstance(checkpoint, dict) else None
        why = ("none in the file" if optimizer_state is None else
               "PySlowFast parameter order differs" if fmt != "pytorchvideo" else
               "the classifier was replaced" if skipped else None)
        if why is None:
            optimizer.load_state_dict(optimizer_state)
            optimizer_loaded = True
        else:
            logger.info("%s: optimizer state not restored (%s)", path, why)
    info.setdefault("epoch", None)
    info.setdefault("cfg", None)
    info.update(format=fmt, missing_keys=missing, unexpected_keys=unexpected, folded_keys=folded,
                skipped_keys=skipped, optimizer_loaded=optimizer_loaded)
    logger.info("loaded %s (%s names, epoch %s)", path, fmt, info["epoch"])
    return info


def _strip_wrapper_prefixes(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop ``module.`` / ``model.`` while every key starts with it."""
    while True:
        prefix = next((p for p in _WRAPPER_PREFIXES if all(k.startswith(p) for k in state)), None)
        if prefix is None:
            return state
        state = {k[len(prefix):]: v for k, v in state.items()}


def _detect_format(state: Dict[str, torch.Tensor], path: str) -> str:
    """"pytorchvideo" (``blocks.N...``) or "pyslowfast" (``s1.pathway0_stem...``, ``head...``)."""
    n_ptv = sum(bool(_PYTORCHVIDEO_KEY.match(k)) for k in state)
    n_psf = sum(bool(_PYSLOWFAST_KEY.match(k)) for k in state)
    if n_ptv and n_psf:
        raise CheckpointError(f"{path}: mixes pytorchvideo names ({n_ptv} keys like blocks.N...) and "
                              f"PySlowFast names ({n_psf} keys like s1..., head...); refusing to guess")
    if not (n_ptv or n_psf):
        raise CheckpointError(f"{path}: parameter names are neither pytorchvideo's (blocks.N...) nor "
                              f"PySlowFast's (s1.pathway0_stem..., head...): {_short(list(state))}")
    return "pytorchvideo" if n_ptv else "pyslowfast"


def _from_pyslowfast(source: Dict[str, torch.Tensor], net: nn.Module, model_state: Dict[str, torch.Tensor],
                     path: str, replaceable: Sequence[str] = ()
                     ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], List[str], List[str], List[str], List[str]]:
    """The file's PySlowFast-named ``source`` in our names, shapes checked, shortcut BNs folded.

    Returns (state, our key -> PySlowFast key, the file's unmapped keys, the file's keys folded,
    the shortcut BN keys the file lacks, the ``replaceable`` keys whose shapes differ).
    """
    key_map = pyslowfast_map(net)
    to_ours = {theirs: ours for ours, theirs in key_map.names.items()}
    state = {to_ours[k]: v for k, v in source.items() if k in to_ours}
    skipped = _check_shapes(state, model_state, key_map.names, path, replaceable)
    folded, unfolded = _fold_shortcut_bns(state, source, key_map.folds, path)
    unexpected = [k for k in source if k not in to_ours and k not in folded]
    return state, key_map.names, unexpected, folded, unfolded, skipped


def _classifier_keys(net: nn.Module) -> List[str]:
    """State keys of the model's classifier: its last linear layer (the head's projection)."""
    name = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    return [f"{name}.{p}" for p, _ in net.get_submodule(name).named_parameters(recurse=False)]


def _check_shapes(state: Dict[str, torch.Tensor], model_state: Dict[str, torch.Tensor],
                  source_names: Dict[str, str], path: str, replaceable: Sequence[str] = ()) -> List[str]:
    """Raise on tensors whose shapes differ from the model's, except keys of ``replaceable``:
    those are returned (the caller leaves them out)."""
    differ = [k for k, v in state.items() if k in model_state and v.shape != model_state[k].shape]
    bad = [
        f"{k}{f' (PySlowFast name {source_names[k]})' if k in source_names else ''}: "
        f"file {tuple(state[k].shape)} vs model {tuple(model_state[k].shape)}"
        for k in differ if k not in replaceable
    ]
    if bad:
        hint = "" if replaceable else " (fine-tuning with another number of classes: new_classifier=True)"
        raise CheckpointError(f"{path}: {len(bad)} tensor shape mismatch(es): " + "; ".join(bad) + hint)
    return [k for k in differ if k in replaceable]


def _fold_shortcut_bns(state: Dict[str, torch.Tensor], source: Dict[str, torch.Tensor],
                       folds: List[ShortcutFold], path: str) -> Tuple[List[str], List[str]]:
    """Fold the PySlowFast shortcut BNs of ``folds`` found in ``source`` (the file, PySlowFast
    names) into ``state`` (our names). Returns (the file keys consumed, the BN keys the file lacks).
    A BN not fully present, or whose conv / block BN is missing, is not folded: its absent keys
    are returned as lacking, its present keys stay unexpected."""
    folded, lacking = [], []
    for fold in folds:
        names = {stat: f"{fold.bn}.{stat}" for stat in ("weight", "bias", "running_mean", "running_var")}
        absent = [k for k in names.values() if k not in source]
        if absent or fold.conv_weight not in state or fold.out_bias not in state:
            lacking += absent
            continue
        channels = (state[fold.conv_weight].shape[0],)
        bad = [f"{k}: file {tuple(source[k].shape)} vs model {channels}"
               for k in names.values() if tuple(source[k].shape) != channels]
        if bad:
            raise CheckpointError(f"{path}: {len(bad)} tensor shape mismatch(es): " + "; ".join(bad))
        fold_shortcut_bn(state, fold, {stat: source[k] for stat, k in names.items()})
        folded += [k for k in (*names.values(), f"{fold.bn}.num_batches_tracked") if k in source]
    return folded, lacking


def _short(keys: List[str], limit: int = 20) -> str:
    """``keys`` for a message: all of them up to ``limit``, then a count of the rest."""
    shown = ", ".join(keys[:limit]) or "none"
    return shown + (f", ... and {len(keys) - limit} more" if len(keys) > limit else "")
