"""The model registry: ``build_model(cfg)`` is the one way to create a slimmable model."""
from typing import Callable, Dict

import torch.nn as nn
from fvcore.common.config import CfgNode

MODEL_REGISTRY: Dict[str, Callable[[CfgNode], nn.Module]] = {}


def register_model(name: str):
    def wrap(builder: Callable[[CfgNode], nn.Module]):
        if name in MODEL_REGISTRY:
            raise KeyError(f"model {name!r} registered twice")
        MODEL_REGISTRY[name] = builder
        return builder

    return wrap


def build_model(cfg: CfgNode) -> nn.Module:
    """Build ``cfg.MODEL.ARCH`` (x3d, slowfast, slow) with pytorchvideo's builder and make it
    slimmable over ``cfg.MUTUALNET.WIDTH_RANGE``. The model is on CPU, at its full width."""
    arch = cfg.MODEL.ARCH
    if arch not in MODEL_REGISTRY:
        raise KeyError(f"unknown MODEL.ARCH {arch!r}; known: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[arch](cfg)
