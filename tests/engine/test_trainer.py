"""The training loop through tools/run_net.py on a tiny synthetic data set: outputs, json stats,
checkpoints (atomic, resumable — also after SIGKILL), the NaN guard."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mutualnet_video.config import SubnetConfig
from mutualnet_video.engine import NonFiniteLossError
from mutualnet_video.utils import checkpoint as ckpt

from .conftest import run_cfg_yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import run_net  # noqa: E402


def json_stats(output_dir):
    lines = (Path(output_dir) / "json_stats.log").read_text().splitlines()
    assert all(line.startswith("json_stats: ") for line in lines)
    return [json.loads(line[len("json_stats: "):]) for line in lines]


def test_run_net_trains_validates_tests_and_writes_outputs(tmp_path, synthetic_data):
    run_net.main(["--cfg", run_cfg_yaml(tmp_path, synthetic_data), "TRAIN.MIXED_PRECISION", "True"])
    out = tmp_path / "run"
    assert (out / "config.yaml").read_text().count("MIXED_PRECISION: true") == 1
    log = (out / "stdout.log").read_text()
    assert "TRAIN.MIXED_PRECISION is ignored on CPU" in log and "BN re-calibrated per config" in log
    records = json_stats(out)
    kinds = [r["_type"] for r in records]
    assert kinds == ["train_iter"] * 2 + ["train_epoch", "val_epoch"] + ["train_iter"] * 2 + \
        ["train_epoch", "val_epoch"] + ["test"] * 4  # the 2 x 2 x 1 evaluation grid
    it = records[0]
    assert it["epoch"] == "1/2" and it["iter"] == "1/2" and it["step"] == 1
    for key in ("loss", "lr", "time_diff", "top1_err", "eta"):
        assert key in it
    configs = [SubnetConfig.parse(name) for name in it["configs"]]
    assert len(configs) == 4 and configs[0] == SubnetConfig(1.0, 32, 4)
    assert len(it["config_losses"]) == 4 and it["loss"] == pytest.approx(sum(it["config_losses"]), abs=1e-4)
    val = records[3]
    assert val["configs"] == ["w1.00-c32-t4", "w0.50-c16-t2"] and len(val["top1_acc"]) == 2
    assert val["bn_calibrated"] is True and val["top1_err"] == pytest.approx(100 - val["top1_acc"][0])
    assert [r["config"] for r in records[-4:]] == ["w1.00-c32-t4", "w1.00-c16-t4", "w0.50-c32-t4", "w0.50-c16-t4"]
    for name in ("curve.json", "curve.csv", "query_table.json", "curve.png"):
        assert (out / name).stat().st_size > 0
    names = sorted(os.listdir(out / "checkpoints"))
    assert names == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]  # no temp files left
    saved = torch.load(out / "checkpoints" / names[-1], weights_only=True)
    assert saved["epoch"] == 1 and saved["step"] == 4 and "MUTUALNET" in saved["cfg"]
    assert saved["optimizer_state"]["state"] and saved["model_state"]


def test_auto_resume_continues_the_epochs_and_steps(tmp_path, synthetic_data):
    cfg_file = run_cfg_yaml(tmp_path, synthetic_data, **{"TEST.ENABLE": False})
    run_net.main(["--cfg", cfg_file])
    run_net.main(["--cfg", cfg_file, "SOLVER.MAX_EPOCH", "3"])
    epochs = [(r["epoch"], r["step"]) for r in json_stats(tmp_path / "run") if r["_type"] == "train_epoch"]
    assert epochs == [("1/2", 2), ("2/2", 4), ("3/3", 6)]
    log = (tmp_path / "run" / "stdout.log").read_text()
    assert "resuming from" in log and "was trained for SOLVER.MAX_EPOCH 2 and now continues to 3" in log


def test_validation_does_not_change_what_is_trained(tmp_path, synthetic_data):
    """The validation after epoch 1 draws training clips for BN calibration (1 or 3 batches here);
    the RNGs are re-seeded every epoch, so epoch 2 trains the same and the weights end the same
    (BN running statistics differ: calibration wrote them, and every grid re-calibrates anyway)."""
    runs = {}
    for batches in (1, 3):
        out = tmp_path / f"bn{batches}"
        out.mkdir()
        run_net.main(["--cfg", run_cfg_yaml(out, synthetic_data, **{"TEST.ENABLE": False,
                                                                     "BN.NUM_BATCHES_PRECISE": batches})])
        state = torch.load(out / "run" / "checkpoints" / "checkpoint_epoch_00002.pyth", weights_only=True)["model_state"]
        losses = [r["loss"] for r in json_stats(out / "run") if r["_type"] == "train_epoch"]
        runs[batches] = state, losses
    (state_1, losses_1), (state_3, losses_3) = runs[1], runs[3]
    assert losses_1 == losses_3
    weights = [k for k in state_1 if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(weights) > 10 and all(torch.equal(state_1[k], state_3[k]) for k in weights)
    assert any(not torch.equal(state_1[k], state_3[k]) for k in state_1 if k.endswith("running_mean"))  # it did differ


def test_a_failed_checkpoint_write_leaves_the_last_complete_one(tmp_path, synthetic_data, monkeypatch):
    """The trainer writes through save_checkpoint (temporary file + rename): a crash while writing
    epoch 2 leaves epoch 1 intact, and the next run resumes from it."""
    cfg_file = run_cfg_yaml(tmp_path, synthetic_data, **{"TEST.ENABLE": False})
    real_save, calls = torch.save, []

    def crash_on_second(obj, f, *args, **kwargs):
        calls.append(obj["epoch"])
        if obj["epoch"] == 1:
            f.write(b"half a checkpoint")
            raise KeyboardInterrupt("killed while writing")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(ckpt.torch, "save", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_net.main(["--cfg", cfg_file])
    monkeypatch.setattr(ckpt.torch, "save", real_save)
    assert calls == [0, 1]
    assert os.listdir(tmp_path / "run" / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    run_net.main(["--cfg", cfg_file])  # epoch 2 again, from the epoch 1 checkpoint
    assert [r["epoch"] for r in json_stats(tmp_path / "run") if r["_type"] == "train_epoch"] == ["1/2", "2/2", "2/2"]
    assert len(os.listdir(tmp_path / "run" / "checkpoints")) == 2


def test_nan_loss_stops_the_run_naming_step_and_config(tmp_path, synthetic_data):
    cfg_file = run_cfg_yaml(tmp_path, synthetic_data, **{"SOLVER.BASE_LR": 1e30})
    with pytest.raises(NonFiniteLossError,
                       match=r"non-finite loss \((nan|inf)\) at step \d+ \(epoch 1/2, iter \d/2, lr [0-9.e+]+\) "
                             r"for sub-network w\d\.\d\d-c\d+-t\d"):
        run_net.main(["--cfg", cfg_file])
    assert not os.path.exists(tmp_path / "run" / "checkpoints")
    diverged, = [r for r in json_stats(tmp_path / "run") if r["_type"] == "diverged"]  # for a sweep to read
    assert diverged["epoch"] == "1/2" and diverged["loss"] in ("nan", "inf", "-inf") and diverged["lr"] > 1e20


def test_sigkill_at_any_moment_then_the_same_command_resumes(tmp_path, synthetic_data):
    cfg_file = run_cfg_yaml(tmp_path, synthetic_data, **{"SOLVER.MAX_EPOCH": 4, "TEST.ENABLE": False})
    command = [sys.executable, str(ROOT / "tools" / "run_net.py"), "--cfg", cfg_file]
    checkpoints = tmp_path / "run" / "checkpoints"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (checkpoints / "checkpoint_epoch_00002.pyth").exists():
            assert proc.poll() is None and time.time() < deadline, "training ended or hung before epoch 2"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # while epoch 3 trains (or epoch 2's validation runs)
    finally:
        proc.wait()
    killed_at = ckpt.get_last_checkpoint(str(tmp_path / "run"))
    done = int(killed_at[-10:-5])
    assert 2 <= done < 4
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    log = (tmp_path / "run" / "stdout.log").read_text()
    assert "resuming from" in log and "was trained for SOLVER.MAX_EPOCH" not in log  # the same schedule
    epochs = [r["epoch"] for r in json_stats(tmp_path / "run") if r["_type"] == "train_epoch"]
    assert epochs[:2] == ["1/4", "2/4"] and epochs[-(4 - done):] == [f"{e}/4" for e in range(done + 1, 5)]
    final = torch.load(checkpoints / "checkpoint_epoch_00004.pyth", weights_only=True)
    assert final["epoch"] == 3 and final["step"] == 8


def test_fine_tune_a_static_checkpoint_into_a_multi_budget_model(tmp_path, synthetic_data):
    static = run_cfg_yaml(tmp_path, synthetic_data, **{"MUTUALNET.MODE": "static", "SOLVER.MAX_EPOCH": 1,
                                                        "TEST.ENABLE": False, "OUTPUT_DIR": str(tmp_path / "static")})
    run_net.main(["--cfg", static])
    assert [r["configs"] for r in json_stats(tmp_path / "static") if r["_type"] == "train_iter"][0] == ["w1.00-c32-t4"]
    pretrained = ckpt.get_last_checkpoint(str(tmp_path / "static"))
    (tmp_path / "tiny.yaml").unlink()
    multi = run_cfg_yaml(tmp_path, synthetic_data, **{"TRAIN.CHECKPOINT_FILE_PATH": pretrained,
                                                       "TRAIN.CHECKPOINT_EPOCH_RESET": True, "TEST.ENABLE": False})
    run_net.main(["--cfg", multi])
    log = (tmp_path / "run" / "stdout.log").read_text()
    assert f"initialising weights from {pretrained} (epoch reset)" in log and "resuming" not in log
    records = json_stats(tmp_path / "run")
    assert [r["epoch"] for r in records if r["_type"] == "train_epoch"] == ["1/2", "2/2"]
    assert len([r for r in records if r["_type"] == "train_iter"][0]["configs"]) == 4
