"""ConfigSampler: the configs of a step, as the issue specifies, a function of (seed, step) only."""
import pytest

from mutualnet_video.config import ConfigError, SubnetConfig
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.engine import ConfigSampler

from .conftest import tiny_cfg


def test_mutualnet_configs_follow_the_sandwich_rule(cfg):
    sampler = ConfigSampler(cfg)
    for step in range(50):
        configs = sampler.sample(step)
        assert len(configs) == 1 + cfg.MUTUALNET.NUM_SUBNETS
        assert configs[0] == SubnetConfig(1.0, 32, 4)  # full: max width, full crop and frames
        widths = [c.width for c in configs]
        assert widths == sorted(widths, reverse=True)
        assert widths[-1] == 0.5  # the min width is always trained
        for c in configs[1:]:
            assert 0.5 <= c.width <= 1.0
            assert c.crop in (32, 24, 16) and c.frames in (4, 2)
            assert SubnetConfig.parse(str(c)) == c  # widths on the 0.01 grid: names are exact


def test_inputs_vary_and_min_width_not_tied_by_default(cfg):
    configs = [c for step in range(200) for c in ConfigSampler(cfg).sample(step)[1:]]
    assert {c.crop for c in configs} == {32, 24, 16} and {c.frames for c in configs} == {4, 2}
    assert len({(c.crop, c.frames) for c in configs if c.width == 0.5}) > 1


def test_min_width_smallest_input():
    sampler = ConfigSampler(tiny_cfg(**{"MUTUALNET.MIN_WIDTH_SMALLEST_INPUT": True}))
    for step in range(20):
        assert sampler.sample(step)[-1] == SubnetConfig(0.5, 16, 2)


def test_same_configs_across_instances_different_across_steps(cfg):
    a, b = ConfigSampler(cfg), ConfigSampler(cfg.clone())
    draws = [a.sample(step) for step in range(20)]
    assert draws == [b.sample(step) for step in range(20)]  # what every rank computes
    assert draws == [a.sample(step) for step in range(20)]  # no hidden state
    assert len({tuple(d) for d in draws}) > 10
    assert [ConfigSampler(cfg, seed=7).sample(s) for s in range(20)] != draws


def test_static_and_sandwich_modes():
    static = ConfigSampler(tiny_cfg(**{"MUTUALNET.MODE": "static"}))
    assert static.sample(3) == [SubnetConfig(1.0, 32, 4)] and static.smallest == static.full
    narrow = ConfigSampler(tiny_cfg(**{"MUTUALNET.MODE": "static", "MUTUALNET.WIDTH_RANGE": [0.5, 0.5]}))
    assert narrow.sample(0) == [SubnetConfig(0.5, 32, 4)]  # a static model at a smaller width
    # a static run at a smaller crop than the inherited MUTUALNET.CROP_SIZES ladder is fine
    small = ConfigSampler(tiny_cfg(**{"MUTUALNET.MODE": "static", "DATA.TRAIN_CROP_SIZE": 16,
                                      "MUTUALNET.CROP_SIZES": [32, 24]}))
    assert small.sample(0) == [SubnetConfig(1.0, 16, 4)]
    sandwich = ConfigSampler(tiny_cfg(**{"MUTUALNET.MODE": "sandwich"}))
    for step in range(10):
        configs = sandwich.sample(step)
        assert len(configs) == 4 and {(c.crop, c.frames) for c in configs} == {(32, 4)}
    assert sandwich.smallest == SubnetConfig(0.5, 32, 4)


def test_default_ladders_and_slowfast_frames():
    cfg = tiny_cfg(**{"MUTUALNET.CROP_SIZES": [], "MUTUALNET.NUM_FRAMES_LIST": [],
                      "DATA.TRAIN_CROP_SIZE": 224, "DATA.NUM_FRAMES": 16})
    space = SubnetSpace(cfg)
    assert space.crops == (224, 192, 160, 128) and space.frames == (16, 12, 8)
    cfg.MODEL.ARCH, cfg.DATA.NUM_FRAMES, cfg.SLOWFAST.ALPHA = "slowfast", 32, 4
    assert SubnetSpace(cfg).frames == (8, 6, 4)  # Slow-pathway frames
    assert ConfigSampler(cfg).full == SubnetConfig(1.0, 224, 8)


def test_ladder_larger_than_the_full_input_is_refused():
    with pytest.raises(ConfigError, match="CROP_SIZES"):
        ConfigSampler(tiny_cfg(**{"MUTUALNET.CROP_SIZES": [48, 32]}))
    with pytest.raises(ConfigError, match="NUM_FRAMES_LIST"):
        ConfigSampler(tiny_cfg(**{"MUTUALNET.NUM_FRAMES_LIST": [8, 4]}))
