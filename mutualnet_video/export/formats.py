"""Writing one static sub-network in each deployment format, each verified at export time.

- ``.pyth``: the PySlowFast / pytorchvideo checkpoint dict of the static model (``model_state``),
  with the config and width it was cut at, so ``load_static`` rebuilds it.
- TorchScript (traced): loadable with ``torch.jit.load`` without this package.
- ONNX (TorchScript-based exporter, dynamic batch axis), checked with ONNX Runtime.

Each writer returns the max abs difference between the written file's outputs and the eager
model's on the example input.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config import SubnetConfig, cfg_from_text
from ..data.derive import Inputs
from ..models import build_model
from .extract import extract_subnet


def input_names(example: Inputs) -> List[str]:
    return ["slow", "fast"] if isinstance(example, (list, tuple)) else ["video"]


def _as_args(example: Inputs) -> tuple:
    # SlowFast takes one list argument; tracing/ONNX see it as a tuple of tensors.
    return (list(example),) if isinstance(example, (list, tuple)) else (example,)


def _tensors(example: Inputs) -> Sequence[torch.Tensor]:
    return list(example) if isinstance(example, (list, tuple)) else [example]


@torch.no_grad()
def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def save_static_pyth(path: str, static: nn.Module, cfg: CfgNode, sub: SubnetConfig) -> None:
    torch.save({"epoch": -1, "model_state": static.state_dict(), "optimizer_state": None, "cfg": cfg.dump(),
                "subnet": sub.to_dict()}, path)


def load_static(path: str) -> nn.Module:
    """Rebuild a static sub-network written by ``save_static_pyth`` (needs this package)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = cfg_from_text(ckpt["cfg"], path)
    static = extract_subnet(build_model(cfg), ckpt["subnet"]["width"])
    static.load_state_dict(ckpt["model_state"], strict=True)
    return static.eval()


@torch.no_grad()
def export_torchscript(static: nn.Module, example: Inputs, path: str) -> float:
    """Trace ``static`` (eval mode) to ``path``; returns the loaded file's max diff on ``example``."""
    static.eval()
    traced = torch.jit.trace(static, _as_args(example), check_trace=False)
    traced.save(path)
    loaded = torch.jit.load(path)
    return _max_diff(loaded(*_as_args(example)), static(*_as_args(example)))


@torch.no_grad()
def export_onnx(static: nn.Module, example: Inputs, path: str, opset: int = 17) -> float:
    """Export ``static`` to ONNX with a dynamic batch axis; returns ONNX Runtime's max diff."""
    import onnxruntime as ort

    static.eval()
    names = input_names(example)
    axes = {n: {0: "batch"} for n in names + ["logits"]}
    torch.onnx.export(static, _as_args(example), path, dynamo=False, input_names=names, output_names=["logits"],
                      dynamic_axes=axes, opset_version=opset)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {n: t.cpu().numpy() for n, t in zip(names, _tensors(example))}
    (logits,) = session.run(["logits"], feeds)
    return _max_diff(torch.from_numpy(logits), static(*_as_args(example)))
