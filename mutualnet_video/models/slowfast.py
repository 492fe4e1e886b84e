"""SlowFast R50 (alpha 4 or 8), built by pytorchvideo's ``create_slowfast``.

MutualNet's video design slims the Slow pathway only (``MUTUALNET.SLIM_PATHWAYS: [0]``) and feeds
only it reduced frames/crops (``MUTUALNET.REDUCE_PATHWAYS: [0]``); the Fast pathway is the same in
every sub-network. The Fast-to-Slow lateral features are then average-pooled to the Slow pathway's
(T, H, W) before the concatenation (a no-op at the full config). Channel runs of the Slow pathway
that read ``cat([slow, lateral])`` are sliced per segment, so sub-networks stay true sub-networks.
"""
from typing import Any, Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.common.config import CfgNode
from pytorchvideo.models.net import MultiPathWayWithFuse
from pytorchvideo.models.slowfast import FuseFastToSlow, PoolConcatPathway, create_slowfast

from ..slim import Segment
from .registry import register_model
from .retrofit import fix_input, fix_output, freeze_width, retrofit


class AdaptiveFuseFastToSlow(FuseFastToSlow):
    """pytorchvideo's lateral connection, pooling the lateral to the Slow pathway's size when the
    two pathways were fed different frame counts or crops. Same parameters and names."""

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        x_s, x_f = x  # (N, C_s, T_s, H_s, W_s), (N, C_f, T_f, H_f, W_f)
        fuse = self.conv_fast_to_slow(x_f)  # (N, C_l, T_f / alpha, H_f, W_f)
        if self.norm is not None:
            fuse = self.norm(fuse)
        if self.activation is not None:
            fuse = self.activation(fuse)
        if fuse.shape[2:] != x_s.shape[2:]:
            fuse = F.adaptive_avg_pool3d(fuse, x_s.shape[2:])
        return [torch.cat([x_s, fuse], 1), x_f]  # (N, C_s + C_l, T_s, H_s, W_s), fast unchanged


def slowfast_kwargs(cfg: CfgNode) -> Dict[str, Any]:
    """``create_slowfast`` arguments for ``cfg``: DATA.NUM_FRAMES is the Fast pathway's clip
    length (PySlowFast convention); the Slow pathway sees NUM_FRAMES // ALPHA frames."""
    alpha, beta_inv = cfg.SLOWFAST.ALPHA, cfg.SLOWFAST.BETA_INV
    t_fast, cells = cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE // 32
    return dict(
        slowfast_channel_reduction_ratio=(beta_inv,),
        slowfast_conv_channel_fusion_ratio=cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
        slowfast_fusion_conv_kernel_size=(cfg.SLOWFAST.FUSION_KERNEL_SZ, 1, 1),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        model_depth=cfg.RESNET.DEPTH,
        model_num_class=cfg.MODEL.NUM_CLASSES,
        dropout_rate=cfg.MODEL.DROPOUT_RATE,
        stem_dim_outs=(cfg.RESNET.WIDTH_PER_GROUP, cfg.RESNET.WIDTH_PER_GROUP // beta_inv),
        head_pool_kernel_sizes=((t_fast // alpha, cells, cells), (t_fast, cells, cells)),
        head_activation=None,
    )


def _segments(channels: List[int], slim: List[bool]):
    return tuple(Segment(c, s) for c, s in zip(channels, slim))


def frame_ratios(cfg: CfgNode):
    """``[slow, fast]``: the Fast pathway sees SLOWFAST.ALPHA frames per Slow frame."""
    return (1, cfg.SLOWFAST.ALPHA)


def slim_pathways(cfg: CfgNode):
    return tuple(cfg.MUTUALNET.SLIM_PATHWAYS)


def reduce_pathways(cfg: CfgNode):
    return tuple(cfg.MUTUALNET.REDUCE_PATHWAYS)


@register_model("slowfast", frame_ratios=frame_ratios, slim_pathways=slim_pathways,
                reduce_pathways=reduce_pathways)
def build_slowfast(cfg: CfgNode) -> nn.Module:
    """Slimmable SlowFast. Input ``[slow (N, 3, T/alpha, H, W), fast (N, 3, T, H, W)]`` (the list
    is not modified); output logits ``(N, NUM_CLASSES)``."""
    model = retrofit(
        create_slowfast(**slowfast_kwargs(cfg)),
        divisor=cfg.MUTUALNET.WIDTH_DIVISOR,
        width_range=cfg.MUTUALNET.WIDTH_RANGE,
        zero_init_final_bn=cfg.RESNET.ZERO_INIT_FINAL_BN,
    )
    slim = [p in slim_pathways(cfg) for p in (0, 1)]
    stages = [b for b in model.blocks if isinstance(b, MultiPathWayWithFuse)]
    lateral_out = None
    for stage in stages:
        stage.inplace = False  # pytorchvideo would overwrite the caller's input list
        for p, pathway in enumerate(stage.multipathway_blocks):
            if not slim[p]:
                freeze_width(pathway)
            if p == 0 and lateral_out is not None:
                _split_concat_inputs(pathway.res_blocks[0], lateral_out, slim[0])
        fusion = stage.multipathway_fusion
        if isinstance(fusion, FuseFastToSlow):
            # Same module, adaptive forward (constructing a new one is foiled by pytorchvideo's
            # set_attributes, which copies `__class__` from the constructor's locals).
            fusion.__class__ = AdaptiveFuseFastToSlow
            conv = fusion.conv_fast_to_slow
            conv.set_specs(in_spec=_segments([conv.in_channels], slim[1:]),
                           out_spec=_segments([conv.out_channels], slim[:1]))
            fusion.norm.set_specs(out_spec=conv.out_spec)
            lateral_out = conv.out_channels
        else:
            lateral_out = None
    for stem in stages[0].multipathway_blocks:
        fix_input(stem.conv)
    head = model.blocks[-1]
    slow_dim = stages[-1].multipathway_blocks[0].res_blocks[-1].branch2.conv_c.out_channels
    head.proj.set_specs(in_spec=_segments([slow_dim, head.proj.in_features - slow_dim], slim))
    fix_output(head.proj)
    assert isinstance(model.blocks[-2], PoolConcatPathway)
    return model


def _split_concat_inputs(first_block: nn.Module, lateral: int, slim: bool) -> None:
    """The first block of a Slow stage reads ``cat([slow, lateral])``: the convs reading it get
    two input segments, so each keeps the active part of both."""
    for conv in (getattr(first_block, "branch1_conv", None), first_block.branch2.conv_a):
        if conv is not None:
            conv.set_specs(in_spec=_segments([conv.in_channels - lateral, lateral], [slim, slim]))
