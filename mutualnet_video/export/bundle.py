"""Multi-budget bundles: one folder per exported config plus ``manifest.json``, and reading them.

Layout written by ``export_bundle``::

    out/
      manifest.json                    # json, written last; every file with its sha256
      slimmable.pyth                   # shared weights once + per-config BN bank + query table
      w0.50-c160-t8/model.pyth         # static sub-network (PySlowFast .pyth dict)
      w0.50-c160-t8/model.torchscript.pt
      w0.50-c160-t8/model.onnx
      ...

``load_bundle(out)`` verifies every checksum (a missing or tampered file is refused) and returns a
``Bundle`` whose ``select(gflops=..)`` / ``select(latency_ms=..)`` gives a TorchScript model and its
input spec. ``SlimmableRuntime`` (see ``runtime.py``) serves ``slimmable.pyth``.
"""
import dataclasses
import hashlib
import logging
import os
from typing import Dict, List, Optional, Sequence

import simplejson
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..budget.calibrate import BNBank
from ..budget.space import SubnetSpace
from ..budget.table import BudgetTable, row_config
from ..config.subnet import SubnetConfig
from ..slim import width as at_width
from ..utils.atomic import write_json
from .extract import extract_subnet
from .formats import export_onnx, export_torchscript, save_static_pyth
from .latency import measure_latency

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SHARED = "slimmable.pyth"
FORMAT_FILES = {"pyth": "model.pyth", "torchscript": "model.torchscript.pt", "onnx": "model.onnx"}


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a deployed config expects: ``frames`` x ``crop`` x ``crop`` clips sampled every
    ``sampling_rate`` frames at ``target_fps``, pixels in [0, 1] normalised by ``mean``/``std``."""

    frames: int
    crop: int
    sampling_rate: float
    target_fps: int
    mean: List[float]
    std: List[float]
    reverse_channels: bool
    shapes: List[List[int]]  # per pathway, batch 1: [[1, 3, T, H, W], ...]


def input_spec(cfg: CfgNode, space: SubnetSpace, sub: SubnetConfig) -> InputSpec:
    return InputSpec(
        frames=sub.frames,
        crop=sub.crop,
        sampling_rate=space.sampling_rate(sub),
        target_fps=cfg.DATA.TARGET_FPS,
        mean=list(cfg.DATA.MEAN),
        std=list(cfg.DATA.STD),
        reverse_channels=bool(cfg.DATA.REVERSE_INPUT_CHANNEL),
        shapes=[list(s) for s in space.input_shapes(sub)],
    )


def _latency(model, space: SubnetSpace, cfg: CfgNode, sub: SubnetConfig, batch_sizes: Sequence[int]) -> Dict[str, float]:
    out = {}
    for n in batch_sizes:
        example = space.dummy_input(sub, batch=n)
        args = (example,)
        with torch.no_grad():
            out[f"batch_{n}"] = measure_latency(lambda: model(*args), cfg.EXPORT.LATENCY_WARMUP,
                                                cfg.EXPORT.LATENCY_REPEATS)
    return out


@torch.no_grad()
def export_config(model: nn.Module, cfg: CfgNode, bank: BNBank, sub: SubnetConfig, folder: str,
                  formats: Sequence[str], measure: bool) -> Dict:
    """Export one config into ``folder``; returns its manifest entry (files relative to the bundle)."""
    os.makedirs(folder, exist_ok=True)
    bank.apply(model, sub)
    model.eval()
    space = SubnetSpace(cfg)
    example = space.dummy_input(sub, batch=2)
    static = extract_subnet(model, sub.width).eval()
    with at_width(model, sub.width):
        reference = model(list(example) if isinstance(example, list) else example)
    verification = {"static_vs_slimmable": (static(example) - reference).abs().max().item()}
    files = {}
    for fmt in formats:
        path = os.path.join(folder, FORMAT_FILES[fmt])
        if fmt == "pyth":
            save_static_pyth(path, static, cfg, sub)
        elif fmt == "torchscript":
            verification["torchscript"] = export_torchscript(static, example, path)
        elif fmt == "onnx":
            verification["onnx"] = export_onnx(static, example, path, cfg.EXPORT.ONNX_OPSET)
        else:
            raise ValueError(f"unknown export format {fmt!r}; known: {sorted(FORMAT_FILES)}")
        files[fmt] = {"path": os.path.join(os.path.basename(folder), FORMAT_FILES[fmt]), "sha256": sha256_file(path)}
    # latency of what select() serves: the TorchScript file when there is one
    runner = torch.jit.load(os.path.join(folder, FORMAT_FILES["torchscript"])) if "torchscript" in files else static
    latency = _latency(runner, space, cfg, sub, sorted({1, cfg.EXPORT.LATENCY_BATCH_SIZE})) if measure else None
    return {"name": str(sub), "config": sub.to_dict(), "input": dataclasses.asdict(input_spec(cfg, space, sub)),
            "params": sum(p.numel() for p in static.parameters()), "latency_ms": latency,
            "files": files, "verification": verification}


def measured_latencies(entries: Sequence[Dict]) -> Dict[str, float]:
    """``{config name: batch-1 ms}`` of the manifest entries whose latency was measured."""
    return {e["name"]: e["latency_ms"]["batch_1"] for e in entries if e["latency_ms"]}


def export_bundle(model: nn.Module, cfg: CfgNode, bank: BNBank, rows: Sequence[Dict], out_dir: str, *,
                  source_checkpoint: Optional[str] = None, query_table: Sequence[Dict] = (),
                  formats: Sequence[str] = ("pyth", "torchscript", "onnx"), measure_latency: bool = False) -> Dict:
    """Export each row's config (``rows``: dicts with width/crop/frames/gflops and, when known, top1 and
    ``budget_gflops``, the budgets it serves) into ``out_dir``, plus the shared-weight artifact (with
    ``query_table``, whose exported rows get their measured ``latency_ms``) and ``manifest.json``.
    Every config must be in ``bank`` (see ``BankStore.prepare``). Returns the manifest."""
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    for i, row in enumerate(rows):
        sub = row_config(row)
        logger.info("exporting %s (%d/%d)", sub, i + 1, len(rows))
        entry = export_config(model, cfg, bank, sub, os.path.join(out_dir, str(sub)), formats, measure_latency)
        entry.update(gflops=row["gflops"], top1=row.get("top1"), budget_gflops=list(row.get("budget_gflops", [])))
        entries.append(entry)
    query_table = BudgetTable(query_table).with_latencies(measured_latencies(entries)).rows
    shared = os.path.join(out_dir, SHARED)
    torch.save({"model_state": model.state_dict(), "bn_bank": bank.state_dict(), "query_table": query_table,
                "cfg": cfg.dump()}, shared)
    manifest = {
        "format_version": 1,
        "model": {"arch": cfg.MODEL.ARCH, "name": cfg.MODEL.MODEL_NAME, "num_classes": cfg.MODEL.NUM_CLASSES},
        "source_checkpoint": None if not source_checkpoint else
        {"path": os.path.abspath(source_checkpoint), "sha256": sha256_file(source_checkpoint)},
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
        "torch_threads": torch.get_num_threads(),
        "shared": {"path": SHARED, "sha256": sha256_file(shared)},
        "budgets": entries,
    }
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


class BundleError(ValueError):
    """A bundle is incomplete or was modified after export."""


@dataclasses.dataclass
class Selected:
    """A deployable config: ``model`` (TorchScript) takes ``spec``-shaped clips."""

    name: str
    model: torch.jit.ScriptModule
    spec: InputSpec
    entry: Dict


class Bundle:
    """A verified bundle. ``select(gflops=..., latency_ms=...)`` -> the config ``BudgetTable.select``
    picks among the exported ones (latency: the batch-1 time measured at export)."""

    def __init__(self, root: str, manifest: Dict):
        self.root, self.manifest = root, manifest

    @property
    def entries(self) -> List[Dict]:
        return self.manifest["budgets"]

    def select(self, gflops: Optional[float] = None, latency_ms: Optional[float] = None) -> Selected:
        rows = BudgetTable(dict(e["config"], gflops=e["gflops"], top1=e["top1"],
                                latency_ms=e["latency_ms"]["batch_1"] if e["latency_ms"] else None)
                           for e in self.entries)
        name = str(row_config(rows.select(gflops=gflops, latency_ms=latency_ms)))
        best = next(e for e in self.entries if e["name"] == name)
        path = os.path.join(self.root, best["files"]["torchscript"]["path"])
        return Selected(best["name"], torch.jit.load(path, map_location="cpu"), InputSpec(**best["input"]), best)


def load_bundle(path: str) -> Bundle:
    """Read ``path/manifest.json`` and verify the sha256 of every file it lists."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise BundleError(f"{path} is not a bundle: {MANIFEST} is missing")
    with open(manifest_path) as f:
        manifest = simplejson.load(f)
    listed = [manifest["shared"]] + [info for e in manifest["budgets"] for info in e["files"].values()]
    for info in listed:
        file_path = os.path.join(path, info["path"])
        if not os.path.isfile(file_path):
            raise BundleError(f"bundle file missing: {file_path}")
        if sha256_file(file_path) != info["sha256"]:
            raise BundleError(f"bundle file was modified after export (sha256 mismatch): {file_path}")
    return Bundle(path, manifest)
