"""The sub-network space comes from the config and the architecture registered with the model."""
import pytest
import torch
import torch.nn as nn

from mutualnet_video.budget import SubnetSpace
from mutualnet_video.config import ConfigError, SubnetConfig, get_cfg
from mutualnet_video.data.sampling import pack_pathways
from mutualnet_video.models.registry import MODEL_REGISTRY, get_arch, register_model

from .model_cfgs import slowfast_cfg, x3d_cfg


@pytest.fixture
def two_pathway_arch():
    """A made-up architecture whose second pathway sees 2 frames per frame of the first and keeps
    the full input in every sub-network: nothing outside its registration says so."""
    register_model("toy2p", frame_ratios=lambda cfg: (1, 2), reduce_pathways=lambda cfg: (0,))(
        lambda cfg: nn.Identity())
    cfg = get_cfg()
    cfg.MODEL.ARCH = "toy2p"
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE, cfg.DATA.SAMPLING_RATE = 8, 32, 40, 4
    cfg.MUTUALNET.WIDTH_RANGE, cfg.MUTUALNET.CROP_SIZES, cfg.MUTUALNET.NUM_FRAMES_LIST = [0.5, 1.0], [32, 16], [4, 2]
    yield cfg
    del MODEL_REGISTRY["toy2p"]


def test_a_registered_architecture_defines_its_inputs(two_pathway_arch):
    space = SubnetSpace(two_pathway_arch)
    assert space.full == SubnetConfig(1.0, 32, 4)  # frames count the first pathway: 8 // 2
    assert space.smallest == SubnetConfig(0.5, 16, 2)
    sub = SubnetConfig(0.5, 16, 2)
    assert space.input_shapes(sub, batch=3) == [(3, 3, 2, 16, 16), (3, 3, 8, 32, 32)]
    assert [tuple(x.shape) for x in space.dummy_input(sub)] == [(1, 3, 2, 16, 16), (1, 3, 8, 32, 32)]
    full_batch = [torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 8, 32, 32)]
    derived = space.derive(full_batch, sub)
    assert derived[0].shape == (2, 3, 2, 16, 16) and derived[1] is full_batch[1]
    assert space.test_config(sub) == SubnetConfig(0.5, 20, 2)  # 16 * 40 / 32
    assert space.sampling_rate(sub) == 8.0  # the full clip's span with half the frames
    packed = pack_pathways(torch.randn(3, 8, 32, 32), get_arch("toy2p").frame_ratios(two_pathway_arch))
    assert [p.shape[1] for p in packed] == [4, 8]


def test_slowfast_sub_network_input():
    """SlowFast: the Slow pathway gets the sub-network's frames and crop, the Fast pathway stays full."""
    cfg = slowfast_cfg(alpha=4, frames=32, crop=64)
    space = SubnetSpace(cfg)
    assert space.full.frames == 8 and space.frame_ratios == (1, 4) and space.reduce_pathways == (0,)
    assert space.input_shapes(SubnetConfig(0.5, 48, 4)) == [(1, 3, 4, 48, 48), (1, 3, 32, 64, 64)]
    cfg.MUTUALNET.REDUCE_PATHWAYS = [0, 1]  # the Fast pathway reduced too, keeping its ratio
    assert SubnetSpace(cfg).input_shapes(SubnetConfig(0.5, 48, 4)) == [(1, 3, 4, 48, 48), (1, 3, 16, 48, 48)]


def test_single_pathway_ignores_the_slowfast_keys():
    cfg = x3d_cfg("XS", frames=8, crop=64)
    cfg.MUTUALNET.REDUCE_PATHWAYS = [1]  # a SlowFast key: X3D's one pathway is always reduced
    space = SubnetSpace(cfg)
    assert space.reduce_pathways == (0,)
    assert space.input_shapes(SubnetConfig(0.5, 32, 4)) == [(1, 3, 4, 32, 32)]


def test_unknown_architecture_names_the_registered_ones():
    cfg = get_cfg()
    cfg.MODEL.ARCH = "mvit"
    with pytest.raises(ConfigError, match="known: slow, slowfast, x3d"):
        SubnetSpace(cfg)
