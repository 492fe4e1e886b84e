"""Every YAML in configs/ loads, builds its model and yields valid sub-network configs."""
from pathlib import Path

import pytest
import torch

from mutualnet_video.config import load_config
from mutualnet_video.engine import ConfigSampler
from mutualnet_video.models import build_model
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.slim import width

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))
EXPECTED = {  # (arch, frames x rate, train crop, classes) as PySlowFast publishes them
    "Kinetics/X3D_XS.yaml": ("x3d", 4, 12, 160, 400),
    "Kinetics/X3D_S.yaml": ("x3d", 13, 6, 160, 400),
    "Kinetics/X3D_M.yaml": ("x3d", 16, 5, 224, 400),
    "Kinetics/X3D_L.yaml": ("x3d", 16, 5, 312, 400),
    "Kinetics/SLOWFAST_4x16_R50.yaml": ("slowfast", 32, 2, 224, 400),
    "Kinetics/SLOWFAST_8x8_R50.yaml": ("slowfast", 32, 2, 224, 400),
    "Kinetics/SLOW_8x8_R50.yaml": ("slow", 8, 8, 224, 400),
    "SSv2/SLOWFAST_16x8_R50.yaml": ("slowfast", 64, 2, 224, 174),
    "SSv2/X3D_M.yaml": ("x3d", 16, 2, 224, 174),
    "SSv2/SLOW_8x8_R50.yaml": ("slow", 8, 2, 224, 174),
    "UCF101/X3D_M.yaml": ("x3d", 16, 5, 224, 101),
    "HMDB51/X3D_M.yaml": ("x3d", 16, 5, 224, 51),
    "demo/X3D_DEMO.yaml": ("x3d", 8, 8, 48, 12),
}


def test_the_expected_configs_exist():
    assert sorted(str(p.relative_to(p.parents[1])) for p in CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_loads_and_builds(path):
    cfg = load_config([str(path)])
    arch, frames, rate, crop, classes = EXPECTED[f"{path.parent.name}/{path.name}"]
    assert (cfg.MODEL.ARCH, cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE,
            cfg.MODEL.NUM_CLASSES) == (arch, frames, rate, crop, classes)
    if path.parent.name == "SSv2":
        assert not cfg.DATA.RANDOM_FLIP and cfg.DATA.REVERSE_INPUT_CHANNEL and cfg.DATA.INV_UNIFORM_SAMPLE
    if path.parent.name in ("UCF101", "HMDB51"):  # fine-tuned from the Kinetics model of the same name
        assert cfg.TRAIN.DATASET == cfg.TEST.DATASET == path.parent.name.lower() and cfg.DATA.SPLIT == 1
        assert cfg.TRAIN.CHECKPOINT_FILE_PATH.startswith(f"output/Kinetics/{path.stem}/")
    sampler = ConfigSampler(cfg)
    assert sampler.full.crop == crop and sampler.smallest.width == cfg.MUTUALNET.WIDTH_RANGE[0]
    model = build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if arch == "x3d" and crop <= 160:  # a forward of the smallest config (cheap for small X3D)
        with torch.no_grad(), width(model.eval(), sampler.smallest.width):
            logits = model(SubnetSpace(cfg).dummy_input(sampler.smallest))
        assert logits.shape == (1, classes)
