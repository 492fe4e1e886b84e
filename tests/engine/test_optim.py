"""Parameter groups (weight decay per kind) and PySlowFast's learning-rate schedule."""
import math

import pytest
import torch.nn as nn

from mutualnet_video.config import ConfigError
from mutualnet_video.engine import LRSchedule, build_optimizer, param_groups
from mutualnet_video.models import build_model

from .conftest import tiny_cfg


def _groups(cfg):
    model = build_model(cfg)
    groups = {g["name"]: g for g in param_groups(model, cfg)}
    return model, groups


def test_every_parameter_in_one_group_with_its_weight_decay():
    cfg = tiny_cfg(**{"SOLVER.WEIGHT_DECAY": 5e-5, "BN.WEIGHT_DECAY": 1e-6})
    model, groups = _groups(cfg)
    ids = [id(p) for g in groups.values() for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert groups["default"]["weight_decay"] == 5e-5 and groups["bn"]["weight_decay"] == 1e-6
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.BatchNorm3d) for p in m.parameters()}
    assert {id(p) for p in groups["bn"]["params"]} == bn_params
    depthwise = {id(m.weight) for m in model.modules()
                 if isinstance(m, nn.Conv3d) and m.groups > 1 and m.groups == m.in_channels}
    assert depthwise and {id(p) for p in groups["zero"]["params"]} == depthwise
    assert groups["zero"]["weight_decay"] == 0.0


def test_depthwise_decay_kept_when_disabled_and_1d_params_zeroed():
    _, groups = _groups(tiny_cfg(**{"MUTUALNET.ZERO_WD_DEPTHWISE": False}))
    assert "zero" not in groups
    _, groups = _groups(tiny_cfg(**{"MUTUALNET.ZERO_WD_DEPTHWISE": False, "SOLVER.ZERO_WD_1D_PARAM": True}))
    assert groups["zero"]["params"] and all(p.ndim == 1 for p in groups["zero"]["params"])


def test_sgd_settings():
    cfg = tiny_cfg(**{"SOLVER.MOMENTUM": 0.8, "SOLVER.NESTEROV": True, "SOLVER.BASE_LR": 0.3})
    optimizer = build_optimizer(build_model(cfg), cfg)
    assert all(g["momentum"] == 0.8 and g["nesterov"] and g["lr"] == 0.3 for g in optimizer.param_groups)
    with pytest.raises(ConfigError, match="OPTIMIZING_METHOD"):
        build_optimizer(build_model(cfg), tiny_cfg(**{"SOLVER.OPTIMIZING_METHOD": "lamb"}))


def _schedule(**solver):
    return LRSchedule(tiny_cfg(**{f"SOLVER.{k}": v for k, v in solver.items()}))


def test_cosine_with_linear_warmup():
    lr = _schedule(BASE_LR=0.1, COSINE_END_LR=0.0, MAX_EPOCH=100, WARMUP_EPOCHS=10.0, WARMUP_START_LR=0.01)
    at_warmup_end = 0.05 * (math.cos(math.pi * 10 / 100) + 1)
    assert lr(0.0) == pytest.approx(0.01)
    assert lr(5.0) == pytest.approx(0.01 + (at_warmup_end - 0.01) / 2)  # linear in the epoch fraction
    assert lr(10.0) == pytest.approx(at_warmup_end)
    assert lr(50.0) == pytest.approx(0.05)
    assert lr(100.0) == pytest.approx(0.0, abs=1e-12)


def test_cosine_after_warmup_starts_at_base_lr():
    lr = _schedule(BASE_LR=0.1, MAX_EPOCH=30, WARMUP_EPOCHS=10.0, WARMUP_START_LR=0.0, COSINE_AFTER_WARMUP=True)
    assert lr(10.0) == pytest.approx(0.1) and lr(20.0) == pytest.approx(0.05) and lr(5.0) == pytest.approx(0.05)


def test_steps_with_relative_lrs():
    lr = _schedule(LR_POLICY="steps_with_relative_lrs", BASE_LR=0.03, STEPS=[0, 14, 18], LRS=[1, 0.1, 0.01],
                   MAX_EPOCH=22, WARMUP_EPOCHS=0.0)
    assert [lr(e) for e in (0, 13.9, 14, 18, 21.5)] == pytest.approx([0.03, 0.03, 0.003, 0.0003, 0.0003])
    with pytest.raises(ConfigError, match="STEPS"):
        _schedule(LR_POLICY="steps_with_relative_lrs", STEPS=[5], LRS=[1])
    with pytest.raises(ConfigError, match="LR_POLICY"):
        _schedule(LR_POLICY="exp")
