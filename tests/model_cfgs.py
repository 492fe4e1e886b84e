"""Configs of the published architectures, at inputs small enough for CPU tests.

The channel widths and depths are the published ones; only the clip the model is built for
(frames x crop) is reduced, which changes the head's pooling kernel and nothing else.
"""
from mutualnet_video.config import get_cfg

X3D = {  # width factor, depth factor, frames, crop (published)
    "XS": (2.0, 2.2, 4, 160),
    "S": (2.0, 2.2, 13, 160),
    "M": (2.0, 2.2, 16, 224),
    "L": (2.0, 5.0, 16, 312),
}


def x3d_cfg(name="XS", frames=None, crop=None, num_classes=400):
    wf, df, t, c = X3D[name]
    cfg = get_cfg()
    cfg.MODEL.ARCH = "x3d"
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.BOTTLENECK_FACTOR = wf, df, 2.25
    cfg.DATA.NUM_FRAMES = frames or t
    cfg.DATA.TRAIN_CROP_SIZE = crop or c
    return cfg


def slowfast_cfg(alpha=4, frames=32, crop=224, slim_pathways=(0,)):
    cfg = get_cfg()
    cfg.MODEL.ARCH = "slowfast"
    cfg.SLOWFAST.ALPHA = alpha
    cfg.SLOWFAST.FUSION_KERNEL_SZ = 7 if alpha == 4 else 5
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE = frames, crop
    cfg.MUTUALNET.SLIM_PATHWAYS = list(slim_pathways)
    return cfg


def slow_cfg(frames=8, crop=224):
    cfg = get_cfg()
    cfg.MODEL.ARCH = "slow"
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE = frames, crop
    return cfg
