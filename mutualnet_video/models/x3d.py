"""X3D (XS/S/M/L and any width/depth factor), built by pytorchvideo's ``create_x3d``."""
from typing import Any, Dict

import torch.nn as nn
from fvcore.common.config import CfgNode
from pytorchvideo.models.x3d import create_x3d

from .registry import register_model
from .retrofit import fix_input, fix_output, retrofit


MIN_BUILD_CROP = 32  # create_x3d asserts crop >= its total spatial stride


def x3d_kwargs(cfg: CfgNode) -> Dict[str, Any]:
    """``create_x3d`` arguments for ``cfg``: the model built for DATA.NUM_FRAMES x TRAIN_CROP_SIZE,
    returning logits (no head softmax).

    pytorchvideo sizes its fixed head pool from the crop and refuses crops below the total stride
    (32); the retrofit replaces that pool by adaptive pooling, so smaller crops build at 32.
    """
    return dict(
        input_clip_length=cfg.DATA.NUM_FRAMES,
        input_crop_size=max(cfg.DATA.TRAIN_CROP_SIZE, MIN_BUILD_CROP),
        model_num_class=cfg.MODEL.NUM_CLASSES,
        dropout_rate=cfg.MODEL.DROPOUT_RATE,
        width_factor=cfg.X3D.WIDTH_FACTOR,
        depth_factor=cfg.X3D.DEPTH_FACTOR,
        bottleneck_factor=cfg.X3D.BOTTLENECK_FACTOR,
        stem_dim_in=cfg.X3D.DIM_C1,
        head_dim_out=cfg.X3D.DIM_C5,
        head_bn_lin5_on=cfg.X3D.BN_LIN5,
        norm_eps=cfg.BN.EPSILON,
        norm_momentum=cfg.BN.MOMENTUM,
        head_activation=None,
    )


@register_model("x3d")
def build_x3d(cfg: CfgNode) -> nn.Module:
    """Slimmable X3D. Input ``(N, 3, T, H, W)`` at any T, H, W; output logits ``(N, NUM_CLASSES)``.

    Every channel run shrinks with the width except the RGB input and the class output.
    """
    model = retrofit(
        create_x3d(**x3d_kwargs(cfg)),
        divisor=cfg.MUTUALNET.WIDTH_DIVISOR,
        width_range=cfg.MUTUALNET.WIDTH_RANGE,
        zero_init_final_bn=cfg.RESNET.ZERO_INIT_FINAL_BN,
    )
    fix_input(model.blocks[0].conv.conv_t)
    fix_output(model.blocks[-1].proj)
    return model
