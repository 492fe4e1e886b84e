"""The model registry: each architecture is registered with its builder and the facts the rest of the
toolkit needs about it (its input pathways and their frame ratio, which pathways are slimmed and which
get a sub-network's reduced input). ``build_model(cfg)`` is the one way to create a slimmable model;
``get_arch(name)`` answers what a model of that name takes, without building one.
"""
import dataclasses
import importlib
from typing import Callable, Dict, List, Tuple

import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config import ConfigError

PathwayRule = Callable[[CfgNode], Tuple[int, ...]]


def _one_pathway(cfg: CfgNode) -> Tuple[int, ...]:
    return (1,)


def _first_pathway(cfg: CfgNode) -> Tuple[int, ...]:
    return (0,)


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A registered architecture.

    Attributes:
        name: ``MODEL.ARCH``.
        build: ``build(cfg) -> nn.Module``, the slimmable model at its full width.
        frame_ratios: ``frame_ratios(cfg)``: per input pathway, its frames per frame of pathway 0
            (``(1,)`` for a single pathway; ``(1, SLOWFAST.ALPHA)`` for ``[slow, fast]``).
        slim_pathways: ``slim_pathways(cfg)``: the pathways whose width switches.
        reduce_pathways: ``reduce_pathways(cfg)``: the pathways fed a sub-network's reduced frames and
            crop (the others see the full clip in every sub-network).
    """

    name: str
    build: Callable[[CfgNode], nn.Module]
    frame_ratios: PathwayRule = _one_pathway
    slim_pathways: PathwayRule = _first_pathway
    reduce_pathways: PathwayRule = _first_pathway

    def num_pathways(self, cfg: CfgNode) -> int:
        return len(self.frame_ratios(cfg))


MODEL_REGISTRY: Dict[str, Architecture] = {}


def register_model(name: str, **facts: PathwayRule):
    """Decorator registering ``builder(cfg)`` as ``MODEL.ARCH == name``; ``facts`` are the
    :class:`Architecture` rules that differ from a single slimmed pathway."""
    def wrap(builder: Callable[[CfgNode], nn.Module]):
        if name in MODEL_REGISTRY:
            raise KeyError(f"model {name!r} registered twice")
        MODEL_REGISTRY[name] = Architecture(name, builder, **facts)
        return builder

    return wrap


def arch_names() -> List[str]:
    importlib.import_module("mutualnet_video.models")  # registers the built-in architectures
    return sorted(MODEL_REGISTRY)


def get_arch(name: str) -> Architecture:
    """The registered architecture ``name``; ``ConfigError`` naming the known ones otherwise."""
    if name not in arch_names():
        raise ConfigError(f"unknown MODEL.ARCH {name!r}; known: {', '.join(arch_names())}")
    return MODEL_REGISTRY[name]


def build_model(cfg: CfgNode) -> nn.Module:
    """Build ``cfg.MODEL.ARCH`` (x3d, slowfast, slow) with pytorchvideo's builder and make it
    slimmable over ``cfg.MUTUALNET.WIDTH_RANGE``. The model is on CPU, at its full width."""
    return get_arch(cfg.MODEL.ARCH).build(cfg)
