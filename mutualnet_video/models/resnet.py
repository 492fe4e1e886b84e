"""Slow R50 (the Slow-only ResNet-50 of the SlowFast paper), built by pytorchvideo's ``create_resnet``."""
from typing import Any, Dict

import torch.nn as nn
from fvcore.common.config import CfgNode
from pytorchvideo.models.resnet import create_resnet

from .registry import register_model
from .retrofit import fix_input, fix_output, retrofit


def slow_kwargs(cfg: CfgNode) -> Dict[str, Any]:
    """``create_resnet`` arguments for ``cfg`` (pytorchvideo's ``slow_r50`` at DATA.NUM_FRAMES x
    TRAIN_CROP_SIZE), returning logits."""
    cells = cfg.DATA.TRAIN_CROP_SIZE // 32
    return dict(
        model_depth=cfg.RESNET.DEPTH,
        model_num_class=cfg.MODEL.NUM_CLASSES,
        dropout_rate=cfg.MODEL.DROPOUT_RATE,
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(cfg.DATA.NUM_FRAMES, cells, cells),
        head_activation=None,
    )


@register_model("slow")
def build_slow(cfg: CfgNode) -> nn.Module:
    """Slimmable Slow R50. Input ``(N, 3, T, H, W)``; output logits ``(N, NUM_CLASSES)``."""
    model = retrofit(
        create_resnet(**slow_kwargs(cfg)),
        divisor=cfg.MUTUALNET.WIDTH_DIVISOR,
        width_range=cfg.MUTUALNET.WIDTH_RANGE,
        zero_init_final_bn=cfg.RESNET.ZERO_INIT_FINAL_BN,
    )
    fix_input(model.blocks[0].conv)
    fix_output(model.blocks[-1].proj)
    return model
