"""Checkpoint save/load: our format, pytorchvideo and PySlowFast model-zoo names, safety."""
import copy
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from pytorchvideo.models.x3d import create_x3d

from mutualnet_video.config import get_cfg
from mutualnet_video.models import build_model
from mutualnet_video.models.x3d import x3d_kwargs
from mutualnet_video.utils import atomic, checkpoint as ckpt
from mutualnet_video.utils.checkpoint import (
    CheckpointError, checkpoint_path, get_last_checkpoint, has_checkpoint, save_checkpoint,
)
from mutualnet_video.models.keymaps import pyslowfast_map
from mutualnet_video.models.loading import load_checkpoint


def _x3d_cfg():
    cfg = get_cfg()
    cfg.MODEL.ARCH = "x3d"
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.DIM_C5 = 0.5, 1.0, 64
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.MODEL.NUM_CLASSES = 4, 64, 5
    return cfg


def _resnet_cfg(arch):
    """Slow R50, or SlowFast R50 at a quarter of the width (same layers, 1/16 of the weights)."""
    cfg = get_cfg()
    cfg.MODEL.ARCH = arch
    cfg.DATA.NUM_FRAMES = 8 if arch == "slowfast" else 4
    cfg.DATA.TRAIN_CROP_SIZE, cfg.MODEL.NUM_CLASSES = 64, 5
    cfg.RESNET.WIDTH_PER_GROUP = 16
    return cfg


def _randomized(model, seed=0):
    """``model`` in eval mode with random BN affine/statistics and biases (conv and linear weights
    are randomly initialized already), so every tensor matters to the logits."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.weight.copy_(0.5 + torch.rand(module.num_features, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=gen))
                module.bias.copy_(torch.rand(module.num_features, generator=gen) - 0.5)
                module.running_mean.copy_(torch.rand(module.num_features, generator=gen) - 0.5)
            elif getattr(module, "bias", None) is not None:
                module.bias.copy_(torch.rand(module.bias.shape, generator=gen) - 0.5)
    return model.eval()


def _clip(cfg, arch="x3d"):
    gen = torch.Generator().manual_seed(1)
    size = cfg.DATA.TRAIN_CROP_SIZE
    fast = torch.randn(1, 3, cfg.DATA.NUM_FRAMES, size, size, generator=gen)
    if arch == "slowfast":
        return [fast[:, :, :: cfg.SLOWFAST.ALPHA].contiguous(), fast]
    return fast


def _logits(model, x):
    with torch.no_grad():
        return model(list(x) if isinstance(x, list) else x)


def _to_pyslowfast(model):
    """Our model's state dict under PySlowFast names (the map inverted)."""
    names = pyslowfast_map(model).names
    return {names[k]: v.clone() for k, v in model.state_dict().items()}


# -------------------------------------------------------------------------------- our format
def test_round_trip_restores_weights_optimizer_and_extras(tmp_path):
    cfg = _x3d_cfg()
    model = _randomized(build_model(cfg))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    model(_clip(cfg)).sum().backward()
    opt.step()
    model.eval()
    path = save_checkpoint(checkpoint_path(str(tmp_path), 3), model, opt, epoch=3, cfg=cfg,
                           step=42, rng_state=torch.get_rng_state(), scheduler_state={"last_epoch": 3})
    assert path == os.path.join(str(tmp_path), "checkpoints", "checkpoint_epoch_00003.pyth")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(raw) == {"epoch", "model_state", "optimizer_state", "cfg", "step", "rng_state", "scheduler_state"}

    fresh = build_model(cfg).eval()
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    info = load_checkpoint(path, fresh, fresh_opt)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    x = _clip(cfg)
    assert torch.equal(_logits(fresh, x), _logits(model, x))
    assert info["optimizer_loaded"] and info["format"] == "pytorchvideo"
    assert info["epoch"] == 3 and info["cfg"] == cfg.dump() and info["step"] == 42
    assert torch.equal(info["rng_state"], raw["rng_state"]) and info["scheduler_state"] == {"last_epoch": 3}
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["folded_keys"] == []
    buffers = [s["momentum_buffer"] for s in fresh_opt.state_dict()["state"].values()]
    expected = [s["momentum_buffer"] for s in opt.state_dict()["state"].values()]
    assert len(buffers) == len(expected) > 0 and all(torch.equal(a, b) for a, b in zip(buffers, expected))


def test_wrapped_models_save_and_load_plain_names(tmp_path):
    cfg = _x3d_cfg()
    model = _randomized(build_model(cfg))
    path = save_checkpoint(str(tmp_path / "a.pyth"), nn.DataParallel(model))
    assert not any(k.startswith("module.") for k in torch.load(path, weights_only=True)["model_state"])
    # A state dict saved from a wrapped model (module. prefixes) loads into a wrapped model.
    prefixed = str(tmp_path / "b.pyth")
    torch.save({"model_state": {f"module.{k}": v for k, v in model.state_dict().items()}}, prefixed)
    fresh = build_model(cfg).eval()
    load_checkpoint(prefixed, nn.DataParallel(fresh))
    x = _clip(cfg)
    assert torch.equal(_logits(fresh, x), _logits(model, x))


def test_distributed_data_parallel_is_unwrapped(tmp_path):
    cfg = _x3d_cfg()
    model = _randomized(build_model(cfg))
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        path = save_checkpoint(str(tmp_path / "ddp.pyth"), DistributedDataParallel(model))
        fresh = build_model(cfg).eval()
        load_checkpoint(path, DistributedDataParallel(fresh))
    finally:
        dist.destroy_process_group()
    assert set(torch.load(path, weights_only=True)["model_state"]) == set(model.state_dict())
    x = _clip(cfg)
    assert torch.equal(_logits(fresh, x), _logits(model, x))


def test_save_refuses_data_weights_only_cannot_read(tmp_path):
    model = build_model(_x3d_cfg())
    path = str(tmp_path / "c.pyth")
    with pytest.raises(TypeError, match=r"rng_state\[1\].*numpy"):
        save_checkpoint(path, model, rng_state=np.random.get_state())
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(path, model, format="mine")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------ atomic
def _complete_then_crash(tmp_path, monkeypatch, crash):
    model = build_model(_x3d_cfg())
    path = checkpoint_path(str(tmp_path), 1)
    save_checkpoint(path, model, epoch=1)
    crash(monkeypatch)
    with pytest.raises(RuntimeError, match="crash"):
        save_checkpoint(path, model, epoch=2)
    with pytest.raises(RuntimeError, match="crash"):
        save_checkpoint(checkpoint_path(str(tmp_path), 2), model, epoch=2)
    monkeypatch.undo()
    return model, path


def _crash_inside_torch_save(monkeypatch):
    def half_written(obj, f):
        f.write(b"PK\x03\x04 partial checkpoint bytes")
        raise RuntimeError("crash while writing")
    monkeypatch.setattr(ckpt.torch, "save", half_written)


def _crash_before_rename(monkeypatch):
    def no_rename(src, dst):
        raise RuntimeError("crash before rename")
    monkeypatch.setattr(atomic.os, "replace", no_rename)


@pytest.mark.parametrize("crash", [_crash_inside_torch_save, _crash_before_rename])
def test_interrupted_save_keeps_the_previous_file_and_no_partial_one(tmp_path, monkeypatch, crash):
    model, path = _complete_then_crash(tmp_path, monkeypatch, crash)
    directory = os.path.dirname(path)
    assert os.listdir(directory) == [os.path.basename(path)]  # no epoch-2 file, no temp file left
    info = load_checkpoint(path, build_model(_x3d_cfg()))
    assert info["epoch"] == 1
    assert get_last_checkpoint(str(tmp_path)) == path


def test_get_last_checkpoint_picks_highest_epoch_and_ignores_temp_files(tmp_path):
    out = str(tmp_path)
    assert get_last_checkpoint(out) is None and not has_checkpoint(out)
    model = build_model(_x3d_cfg())
    for epoch in (2, 10, 9):
        save_checkpoint(checkpoint_path(out, epoch), model, epoch=epoch)
    # What a killed process leaves behind (no cleanup ran): never picked.
    open(os.path.join(out, "checkpoints", ".checkpoint_epoch_00011.pyth.x1y2.tmp"), "wb").close()
    assert get_last_checkpoint(out) == checkpoint_path(out, 10) and has_checkpoint(out)


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = save_checkpoint(str(tmp_path / "full.pyth"), build_model(_x3d_cfg()))
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.pyth")
    open(cut, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(cut, build_model(_x3d_cfg()))


# ------------------------------------------------------------------------- pytorchvideo zoo
@pytest.mark.parametrize("wrapped", [True, False], ids=["model_state", "bare_state_dict"])
def test_pytorchvideo_zoo_file_loads_strict_with_identical_logits(tmp_path, wrapped):
    cfg = _x3d_cfg()
    original = _randomized(create_x3d(**x3d_kwargs(cfg)))
    state = original.state_dict()
    path = str(tmp_path / "X3D_tiny.pyth")
    torch.save({"model_state": state} if wrapped else state, path)
    model = build_model(cfg).eval()
    info = load_checkpoint(path, model)
    assert info["format"] == "pytorchvideo" and info["epoch"] is None and info["cfg"] is None
    x = _clip(cfg)
    assert torch.allclose(_logits(model, x), _logits(original, x), atol=1e-6)


# --------------------------------------------------------------------------- PySlowFast zoo
def test_pyslowfast_x3d_names_match_pyslowfast_modules():
    """Hand-written PySlowFast names (video_model_builder.X3D, stem_helper.X3DStem,
    resnet_helper.X3DTransform, operators.SE, head_helper.X3DHead), not derived from the map."""
    cfg = _x3d_cfg()
    cfg.X3D.BN_LIN5 = True
    km = pyslowfast_map(build_model(cfg))
    expected = {
        "blocks.0.conv.conv_t.weight": "s1.pathway0_stem.conv_xy.weight",  # 1x3x3
        "blocks.0.conv.conv_xy.weight": "s1.pathway0_stem.conv.weight",  # Tx1x1 depthwise
        "blocks.0.norm.running_var": "s1.pathway0_stem.bn.running_var",
        "blocks.1.res_blocks.0.branch1_conv.weight": "s2.pathway0_res0.branch1.weight",
        "blocks.1.res_blocks.0.branch2.norm_b.0.bias": "s2.pathway0_res0.branch2.b_bn.bias",
        "blocks.1.res_blocks.0.branch2.norm_b.1.block.0.weight": "s2.pathway0_res0.branch2.se.fc1.weight",
        "blocks.1.res_blocks.0.branch2.norm_b.1.block.2.bias": "s2.pathway0_res0.branch2.se.fc2.bias",
        "blocks.2.res_blocks.0.branch1_norm.running_mean": "s3.pathway0_res0.branch1_bn.running_mean",
        "blocks.2.res_blocks.1.branch2.conv_b.weight": "s3.pathway0_res1.branch2.b.weight",
        "blocks.4.res_blocks.2.branch2.norm_c.weight": "s5.pathway0_res2.branch2.c_bn.weight",
        "blocks.5.pool.pre_conv.weight": "head.conv_5.weight",
        "blocks.5.pool.pre_norm.bias": "head.conv_5_bn.bias",
        "blocks.5.pool.post_conv.weight": "head.lin_5.weight",
        "blocks.5.pool.post_norm.weight": "head.lin_5_bn.weight",
        "blocks.5.proj.weight": "head.projection.weight",
    }
    assert {k: km.names[k] for k in expected} == expected
    assert not any(".se." in v for k, v in km.names.items() if "res_blocks.1." in k)  # SE on even blocks only
    assert [f.bn for f in km.folds] == ["s2.pathway0_res0.branch1_bn"]


def test_pyslowfast_x3d_file_loads_with_identical_logits_and_folds_shortcut_bn(tmp_path):
    cfg = _x3d_cfg()
    source = _randomized(build_model(cfg))
    state = _to_pyslowfast(source)
    # PySlowFast has a BN on the first shortcut that pytorchvideo's X3D lacks: give it real stats.
    channels = source.blocks[1].res_blocks[0].branch1_conv.out_channels
    gen = torch.Generator().manual_seed(3)
    bn = nn.BatchNorm3d(channels, eps=1e-5).eval()
    with torch.no_grad():
        bn.weight.copy_(0.5 + torch.rand(channels, generator=gen))
        bn.bias.copy_(torch.rand(channels, generator=gen) - 0.5)
        bn.running_mean.copy_(torch.rand(channels, generator=gen) - 0.5)
        bn.running_var.copy_(0.5 + torch.rand(channels, generator=gen))
    state.update({f"s2.pathway0_res0.branch1_bn.{k}": v for k, v in bn.state_dict().items()})
    path = str(tmp_path / "x3d_pyslowfast.pyth")
    torch.save({"epoch": 299, "model_state": state, "optimizer_state": {"state": {}, "param_groups": []},
                "cfg": "MODEL:\n  ARCH: x3d\n"}, path)

    model = build_model(cfg).eval()
    info = load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert info["format"] == "pyslowfast" and info["epoch"] == 299 and not info["optimizer_loaded"]
    assert sorted(info["folded_keys"]) == sorted(f"s2.pathway0_res0.branch1_bn.{k}" for k in bn.state_dict())
    # Reference: the PySlowFast block computes branch1_bn(branch1(x)) + branch2(x).
    reference = copy.deepcopy(source)
    reference.blocks[1].res_blocks[0].branch1_norm = bn
    x = _clip(cfg)
    assert torch.allclose(_logits(model, x), _logits(reference, x), atol=1e-5)


@pytest.mark.parametrize("arch", ["slowfast", "slow"])
def test_pyslowfast_resnet_files_load_with_identical_logits(tmp_path, arch):
    cfg = _resnet_cfg(arch)
    source = _randomized(build_model(cfg))
    state = _to_pyslowfast(source)
    expected = {  # video_model_builder.SlowFast / ResNet, resnet_helper.ResBlock, head_helper.ResNetBasicHead
        "s1.pathway0_stem.conv.weight", "s1.pathway0_stem.bn.running_mean",
        "s2.pathway0_res0.branch1.weight", "s2.pathway0_res0.branch1_bn.weight",
        "s2.pathway0_res0.branch2.a.weight", "s3.pathway0_res3.branch2.b_bn.bias",
        "s5.pathway0_res2.branch2.c_bn.running_var", "head.projection.weight", "head.projection.bias",
    }
    if arch == "slowfast":
        expected |= {"s1.pathway1_stem.conv.weight", "s1_fuse.conv_f2s.weight", "s1_fuse.bn.running_var",
                     "s4_fuse.conv_f2s.weight", "s5.pathway1_res2.branch2.c.weight"}
        assert not any(k.startswith("s5_fuse.") for k in state)
    assert expected <= set(state)
    assert pyslowfast_map(source).folds == []
    path = str(tmp_path / f"{arch}.pyth")
    torch.save({"model_state": state}, path)
    model = build_model(cfg).eval()
    assert load_checkpoint(path, model)["format"] == "pyslowfast"
    x = _clip(cfg, arch)
    assert torch.equal(_logits(model, x), _logits(source, x))


# -------------------------------------------------------------------------------- mismatches
def test_unmapped_and_missing_keys_are_named(tmp_path):
    cfg = _x3d_cfg()
    state = _to_pyslowfast(build_model(cfg))
    del state["s3.pathway0_res1.branch2.a.weight"]
    state["s3.pathway0_nonlocal1.conv_theta.weight"] = torch.zeros(1)
    path = str(tmp_path / "partial.pyth")
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, build_model(cfg))
    message = str(err.value)
    assert "blocks.2.res_blocks.1.branch2.conv_a.weight (PySlowFast name s3.pathway0_res1.branch2.a.weight)" in message
    assert "s3.pathway0_nonlocal1.conv_theta.weight" in message
    assert "s2.pathway0_res0.branch1_bn" in message  # the shortcut BN to fold is absent too
    info = load_checkpoint(path, build_model(cfg), strict=False)
    assert info["missing_keys"] == ["blocks.2.res_blocks.1.branch2.conv_a.weight"] + [
        f"s2.pathway0_res0.branch1_bn.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
    assert info["unexpected_keys"] == ["s3.pathway0_nonlocal1.conv_theta.weight"]


def test_shape_mismatch_names_key_and_both_shapes(tmp_path):
    cfg = _x3d_cfg()
    state = build_model(cfg).state_dict()
    state["blocks.5.proj.weight"] = torch.zeros(400, 64)
    path = str(tmp_path / "k400.pyth")
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointError, match=r"blocks\.5\.proj\.weight: file \(400, 64\) vs model \(5, 64\)"):
        load_checkpoint(path, build_model(cfg), strict=False)
    state = _to_pyslowfast(build_model(cfg))
    state["head.projection.bias"] = torch.zeros(400)
    torch.save({"model_state": state}, path)
    expected = r"blocks\.5\.proj\.bias \(PySlowFast name head\.projection\.bias\): file \(400,\) vs model \(5,\)"
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path, build_model(cfg))


@pytest.mark.parametrize("names", ["pytorchvideo", "pyslowfast"])
def test_fine_tuning_on_another_class_count_keeps_the_new_classifier(tmp_path, names):
    """A 400-class file into a 5-class model: everything but the classifier loads; only the
    classifier may differ, and the optimizer state (shaped for the old classifier) is not restored."""
    cfg = _x3d_cfg()
    k400 = cfg.clone()
    k400.MODEL.NUM_CLASSES = 400
    source = _randomized(build_model(k400))
    sgd = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    source(_clip(k400)).sum().backward()
    sgd.step()  # an optimizer state with momentum buffers shaped for 400 classes
    state = _to_pyslowfast(source) if names == "pyslowfast" else source.state_dict()
    path = str(tmp_path / "k400.pyth")
    torch.save({"model_state": state, "optimizer_state": sgd.state_dict()}, path)

    model = build_model(cfg)
    head_before = model.blocks[5].proj.weight.detach().clone()
    # strict=False: our PySlowFast-style file has no shortcut BN to fold (see the test above)
    info = load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1), strict=False,
                           new_classifier=True)
    assert info["skipped_keys"] == ["blocks.5.proj.weight", "blocks.5.proj.bias"]
    assert all(k.startswith("s2.pathway0_res0.branch1_bn.") for k in info["missing_keys"])
    assert not info["optimizer_loaded"]
    assert torch.equal(model.blocks[5].proj.weight, head_before)  # the new classifier is kept
    trunk = "blocks.5.pool.post_conv.weight"
    assert torch.equal(model.state_dict()[trunk], source.state_dict()[trunk])

    broken = dict(state)
    stem = "blocks.0.conv.conv_t.weight" if names == "pytorchvideo" else "s1.pathway0_stem.conv_xy.weight"
    broken[stem] = torch.zeros(1, 1, 1, 1, 1)
    torch.save({"model_state": broken}, path)
    with pytest.raises(CheckpointError, match="1 tensor shape mismatch"):  # only the classifier may differ
        load_checkpoint(path, build_model(cfg), strict=False, new_classifier=True)


# -------------------------------------------------------------------------------------- safety
class _Payload:
    """Unpickling this would run code: the loader must refuse before that happens."""

    ran = False

    def __setstate__(self, state):
        type(self).ran = True


def test_pickled_objects_are_refused_without_running_them(tmp_path):
    cfg = _x3d_cfg()
    path = str(tmp_path / "pickled.pyth")
    torch.save({"model_state": build_model(cfg).state_dict(), "extra": _Payload()}, path)
    with pytest.raises(CheckpointError, match="pickled Python objects.*_Payload.*refuses to execute") as err:
        load_checkpoint(path, build_model(cfg))
    assert "weights_only=False" in str(err.value) and "converted.pyth" in str(err.value)
    assert not _Payload.ran
