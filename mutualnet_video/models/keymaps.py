"""Parameter-name maps between pytorchvideo models (our names) and PySlowFast's own models.

Our models keep pytorchvideo's parameter names (``blocks.N...``), so pytorchvideo model-zoo files
load as they are. PySlowFast's own X3D / SlowFast / Slow (``video_model_builder.py``) name the same
layers differently; the map is built by walking the pytorchvideo model's structure:

===============================================  ============================================
pytorchvideo (ours)                              PySlowFast
===============================================  ============================================
stem ``blocks.0`` (in pathway p)                 ``s1.pathway{p}_stem``
  ``conv`` / ``norm``                              ``conv`` / ``bn``
  X3D ``conv.conv_t`` (1x3x3 spatial)              ``conv_xy``
  X3D ``conv.conv_xy`` (Tx1x1 depthwise)           ``conv``
stage k, block i (pathway p)                     ``s{k+1}.pathway{p}_res{i}``
  ``branch1_conv`` / ``branch1_norm``              ``branch1`` / ``branch1_bn``
  ``branch2.conv_a|b|c``                           ``branch2.a|b|c``
  ``branch2.norm_a|b|c``                           ``branch2.a_bn|b_bn|c_bn``
  X3D ``branch2.norm_b.0`` / ``norm_b.1`` (SE)     ``branch2.b_bn`` / ``branch2.se``
  SE ``block.0`` / ``block.2``                     ``fc1`` / ``fc2``
fusion after stage k (SlowFast)                  ``s{k+1}_fuse``
  ``conv_fast_to_slow`` / ``norm``                 ``conv_f2s`` / ``bn``
head ``proj``                                    ``head.projection``
X3D head ``pool.pre_conv|pre_norm``              ``head.conv_5|conv_5_bn``
X3D head ``pool.post_conv|post_norm``            ``head.lin_5|lin_5_bn``
===============================================  ============================================

(The stem's temporal and spatial convs swap names between the two code bases.) Tensor shapes are
the same on both sides, the head's Linear included (pytorchvideo applies it channels-last).

One layer has no pytorchvideo counterpart: PySlowFast gives every projection shortcut a BN
(``branch1_bn``), while pytorchvideo's X3D block has none when only the stride changes (the first
block of X3D's first stage). Such a BN is recorded as a ``ShortcutFold``: in inference it is a
per-channel affine map, folded exactly into the shortcut conv's weight (scale) and into the
block's last BN bias (shift: both branches are summed).
"""
from dataclasses import dataclass, field
from typing import Dict, List

import torch
import torch.nn as nn
from fvcore.nn.squeeze_excitation import SqueezeExcitation
from pytorchvideo.layers.convolutions import Conv2plus1d
from pytorchvideo.models.head import ResNetBasicHead
from pytorchvideo.models.net import MultiPathWayWithFuse
from pytorchvideo.models.resnet import BottleneckBlock, ResBlock, ResStage
from pytorchvideo.models.slowfast import FuseFastToSlow
from pytorchvideo.models.stem import ResNetBasicStem
from pytorchvideo.models.x3d import ProjectedPool

from ..utils.distributed import unwrap

# PySlowFast's ResStage builds its ResBlocks without passing an epsilon: their BNs use 1e-5.
PYSLOWFAST_RESBLOCK_BN_EPS = 1e-5


@dataclass(frozen=True)
class ShortcutFold:
    """A PySlowFast shortcut BN with no pytorchvideo counterpart, folded on load.

    Attributes:
        bn: PySlowFast module name of the BN, e.g. ``s2.pathway0_res0.branch1_bn``.
        conv_weight: our key of the shortcut conv weight it scales per output channel.
        out_bias: our key of the block's last BN bias that absorbs its per-channel shift.
    """

    bn: str
    conv_weight: str
    out_bias: str


@dataclass
class PySlowFastMap:
    """``names``: our state-dict key -> PySlowFast key; ``folds``: BNs folded on load."""

    names: Dict[str, str] = field(default_factory=dict)
    folds: List[ShortcutFold] = field(default_factory=list)


def pyslowfast_map(model: nn.Module) -> PySlowFastMap:
    """The name map for ``model`` (a pytorchvideo X3D / SlowFast / ResNet, slimmable or not).

    Raises ``ValueError`` if the model has a part with parameters this map does not know, so a
    new architecture cannot load a PySlowFast file half-mapped.
    """
    model = unwrap(model)
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"{type(model).__name__} is not a pytorchvideo Net (no `blocks` ModuleList)")
    out = PySlowFastMap()
    stage = 0  # PySlowFast's s1 is the stem, s2..s5 the residual stages
    for i, block in enumerate(blocks):
        ours = f"blocks.{i}"
        if isinstance(block, MultiPathWayWithFuse):
            pathways = [(f"{ours}.multipathway_blocks.{p}", m) for p, m in enumerate(block.multipathway_blocks)]
            fusion = block.multipathway_fusion
        else:
            pathways, fusion = [(ours, block)], None
        if all(isinstance(m, (ResNetBasicStem, ResStage)) for _, m in pathways):
            stage += 1
            for p, (path, pathway) in enumerate(pathways):
                if isinstance(pathway, ResNetBasicStem):
                    _map_stem(out, pathway, path, f"s{stage}.pathway{p}_stem")
                else:
                    _map_stage(out, pathway, path, f"s{stage}", p)
            if isinstance(fusion, FuseFastToSlow):
                fuse = f"{ours}.multipathway_fusion"
                _leaf(out, fusion.conv_fast_to_slow, f"{fuse}.conv_fast_to_slow", f"s{stage}_fuse.conv_f2s")
                _leaf(out, fusion.norm, f"{fuse}.norm", f"s{stage}_fuse.bn")
        elif isinstance(block, ResNetBasicHead):
            _map_head(out, block, ours)
    unmapped = sorted(set(model.state_dict()) - set(out.names))
    if unmapped:
        raise ValueError(
            f"no PySlowFast name for {len(unmapped)} parameter(s) of {type(model).__name__}: {unmapped[:10]}"
        )
    return out


def _leaf(out: PySlowFastMap, module: nn.Module, ours: str, theirs: str) -> None:
    """Map every state entry of a leaf layer (weight, bias, BN statistics) under the new name."""
    for key in module.state_dict():
        out.names[f"{ours}.{key}"] = f"{theirs}.{key}"


def _map_stem(out: PySlowFastMap, stem: ResNetBasicStem, ours: str, theirs: str) -> None:
    if isinstance(stem.conv, Conv2plus1d):  # X3D: spatial then depthwise temporal conv
        _leaf(out, stem.conv.conv_t, f"{ours}.conv.conv_t", f"{theirs}.conv_xy")
        _leaf(out, stem.conv.conv_xy, f"{ours}.conv.conv_xy", f"{theirs}.conv")
    else:
        _leaf(out, stem.conv, f"{ours}.conv", f"{theirs}.conv")
    _leaf(out, stem.norm, f"{ours}.norm", f"{theirs}.bn")


def _map_stage(out: PySlowFastMap, stage: ResStage, ours: str, theirs: str, pathway: int) -> None:
    for i, block in enumerate(stage.res_blocks):
        _map_res_block(out, block, f"{ours}.res_blocks.{i}", f"{theirs}.pathway{pathway}_res{i}")


def _map_res_block(out: PySlowFastMap, block: ResBlock, ours: str, theirs: str) -> None:
    branch2 = block.branch2
    if not isinstance(branch2, BottleneckBlock):
        raise ValueError(f"{ours}.branch2 is a {type(branch2).__name__}; only bottleneck blocks are mapped")
    if block.branch1_conv is not None:
        _leaf(out, block.branch1_conv, f"{ours}.branch1_conv", f"{theirs}.branch1")
        if block.branch1_norm is not None:
            _leaf(out, block.branch1_norm, f"{ours}.branch1_norm", f"{theirs}.branch1_bn")
        else:
            out.folds.append(ShortcutFold(
                bn=f"{theirs}.branch1_bn",
                conv_weight=f"{ours}.branch1_conv.weight",
                out_bias=f"{ours}.branch2.norm_c.bias",
            ))
    ours2, theirs2 = f"{ours}.branch2", f"{theirs}.branch2"
    for conv, norm, letter in (("conv_a", "norm_a", "a"), ("conv_b", "norm_b", "b"), ("conv_c", "norm_c", "c")):
        _leaf(out, getattr(branch2, conv), f"{ours2}.{conv}", f"{theirs2}.{letter}")
        norm_module = getattr(branch2, norm)
        if isinstance(norm_module, nn.Sequential):  # X3D: norm_b = (BN, squeeze-excitation or Identity)
            bn, se = norm_module
            _leaf(out, bn, f"{ours2}.{norm}.0", f"{theirs2}.{letter}_bn")
            if isinstance(se, SqueezeExcitation):
                _map_se(out, se, f"{ours2}.{norm}.1", f"{theirs2}.se")
        else:
            _leaf(out, norm_module, f"{ours2}.{norm}", f"{theirs2}.{letter}_bn")


def _map_se(out: PySlowFastMap, se: SqueezeExcitation, ours: str, theirs: str) -> None:
    convs = [(j, m) for j, m in enumerate(se.block) if isinstance(m, nn.Conv3d)]
    if len(convs) != 2:
        raise ValueError(f"{ours}: expected a squeeze-excitation with 2 convs, got {len(convs)}")
    for (j, conv), name in zip(convs, ("fc1", "fc2")):
        _leaf(out, conv, f"{ours}.block.{j}", f"{theirs}.{name}")


def _map_head(out: PySlowFastMap, head: ResNetBasicHead, ours: str) -> None:
    if isinstance(head.pool, ProjectedPool):  # X3D
        for name, theirs in (("pre_conv", "conv_5"), ("pre_norm", "conv_5_bn"),
                             ("post_conv", "lin_5"), ("post_norm", "lin_5_bn")):
            module = getattr(head.pool, name)
            if module is not None:
                _leaf(out, module, f"{ours}.pool.{name}", f"head.{theirs}")
    _leaf(out, head.proj, f"{ours}.proj", "head.projection")


def fold_shortcut_bn(state: Dict[str, torch.Tensor], fold: ShortcutFold, bn: Dict[str, torch.Tensor]) -> None:
    """Fold the PySlowFast shortcut BN ``bn`` (its ``weight``, ``bias``, ``running_mean``,
    ``running_var``) into ``state`` (our names) in place.

    ``BN(W x) + branch2(x)`` equals ``(s W) x + branch2'(x)`` with ``s = gamma / sqrt(var + eps)``
    and ``branch2'`` = branch2 whose last BN bias grew by ``beta - mean * s``: exact in eval mode.
    """
    scale = bn["weight"].double() / torch.sqrt(bn["running_var"].double() + PYSLOWFAST_RESBLOCK_BN_EPS)
    shift = bn["bias"].double() - bn["running_mean"].double() * scale
    weight = state[fold.conv_weight]
    state[fold.conv_weight] = (weight.double() * scale.view(-1, *[1] * (weight.dim() - 1))).to(weight.dtype)
    bias = state[fold.out_bias]
    state[fold.out_bias] = (bias.double() + shift).to(bias.dtype)
