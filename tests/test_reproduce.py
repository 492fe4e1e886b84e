"""experiments/reproduce_synthetic.py: the protocol's plan, and the driver end to end on a tiny data set."""
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from data_prep.make_synthetic import GENERATOR_VERSION, make_synthetic
from experiments import protocol, report, results, runner, stats
from experiments.progress import Progress
from experiments import reproduce_synthetic as driver
from mutualnet_video.budget import BankStore, BNBank, BudgetTable, SubnetSpace, row_config
from mutualnet_video.budget.table import CURVE_JSON
from mutualnet_video.config import SubnetConfig, load_config

STATIC = "w1.00-c32-t4"
LRS = ["0.05", "0.1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """2 classes: 4 train videos (2 steps of 2 clips), 4 val and 6 test videos."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_classes=2, train_per_class=2, val_per_class=2,
                          test_per_class=3, frames=8, size=32).root


def tiny_argv(data, out, docs, seeds=("0", "1")):
    """MutualNet and one static baseline, 2 learning rates (one of them is best, so each method's
    sweep adds one rate beyond it), 2 seeds, 1 epoch, a 2-config grid, 2 test views; 2 calls at a time."""
    return ["--epochs", "1", "--seeds", *seeds, "--lrs", *LRS, "--extend", "1", "--methods", "mutualnet", "static",
            "--views", "2", "--jobs", "2",
            "--out", str(out), "--docs", str(docs), "--static-configs", STATIC,
            "--opts", "DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data), "MODEL.NUM_CLASSES", "2",
            "TRAIN.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "4", "DATA_LOADER.NUM_WORKERS", "0",
            "BN.NUM_BATCHES_PRECISE", "1", "LOG_PERIOD", "1",
            "MUTUALNET.EVAL_GRID.WIDTHS", "[0.5, 1.0]", "MUTUALNET.EVAL_GRID.CROPS", "[32]",
            "MUTUALNET.EVAL_GRID.FRAMES", "[4]"]


def test_static_opts_keep_the_clip_span_and_field_of_view():
    cfg = load_config([driver.BASE_CFG])  # 8 frames x rate 8 at crop 48, jitter [48, 56]
    opts = protocol.static_opts(cfg, SubnetConfig.parse("w0.50-c32-t4"))
    values = dict(zip(opts[0::2], opts[1::2]))
    assert values["DATA.SAMPLING_RATE"] == "16" and values["DATA.NUM_FRAMES"] == "4"
    assert values["DATA.TRAIN_JITTER_SCALES"] == "[32, 37]" and values["DATA.TRAIN_CROP_SIZE"] == "32"
    assert values["MUTUALNET.WIDTH_RANGE"] == "[0.5, 0.5]"


def test_default_protocol_plan():
    cfg = load_config([driver.BASE_CFG])
    cheap, full = SubnetConfig.parse("w0.50-c32-t4"), SubnetConfig.parse("w1.00-c48-t8")
    flops = {cheap: 1.0, full: 3.0}.get
    assert protocol.choose_static_configs(None, cfg, lambda sub: flops(sub, 2.0)) == [cheap, full]
    sweep = protocol.sweep_runs([0.05, 0.1, 0.2], full)
    assert len(sweep) == 9 and {r.seed for r in sweep} == {0} and {r.config for r in sweep if r.method == "static"} == {full}
    swept = {"mutualnet": {"chosen": 0.1}, "sandwich": {"chosen": 0.2}, "static": {"chosen": 0.05}}
    runs = protocol.seed_runs([0, 1, 2, 3, 4], protocol.lr_of_method(swept), [cheap, full])
    assert len(runs) == 35  # per seed: mutualnet, its three ablations, sandwich, static x 2
    assert {r.lr for r in runs if r.method.startswith("mutualnet")} == {0.1}  # the ablations take MutualNet's rate
    assert protocol.lr_of_method(swept, ["mutualnet_wc", "static"]) == {"mutualnet_wc": 0.1, "static": 0.05}
    assert [r.name for r in runs if protocol.reuses_sweep(r, sweep)] == ["mutualnet", "sandwich", f"static_{full}"]
    wc = dict(zip(*[iter(protocol.method_opts(cfg, protocol.Run("mutualnet_wc", 1, 0.1)))] * 2))
    wt = dict(zip(*[iter(protocol.method_opts(cfg, protocol.Run("mutualnet_wt", 1, 0.1)))] * 2))
    assert wc["MUTUALNET.NUM_FRAMES_LIST"] == "[8]" and "MUTUALNET.CROP_SIZES" not in wc
    assert wt["MUTUALNET.CROP_SIZES"] == "[48]" and wt["MUTUALNET.MODE"] == "mutualnet" and wt["SOLVER.BASE_LR"] == "0.1"
    labels = dict(zip(*[iter(protocol.method_opts(cfg, protocol.Run("mutualnet_labels", 1, 0.1)))] * 2))
    assert labels["MUTUALNET.INPLACE_DISTILL"] == "False" and labels["MUTUALNET.MODE"] == "mutualnet"
    assert "MUTUALNET.CROP_SIZES" not in labels and "MUTUALNET.NUM_FRAMES_LIST" not in labels
    assert protocol.swept(["mutualnet_wt", "mutualnet", "sandwich"]) == ["mutualnet", "sandwich"]
    with pytest.raises(SystemExit, match="needs mutualnet"):
        protocol.check_methods(["sandwich", "static"])


def test_a_fixed_sweep_refuses_other_rates_and_adds_new_methods(tmp_path):
    """sweep.json, once written, holds: a method added later gains its rate, a changed rate stops."""
    first = {"lrs": [0.01, 0.03], "extend": 2, "lr_of_method": {"mutualnet": 0.03, "sandwich": 0.01}}
    assert driver.fix_sweep(str(tmp_path), first) == first
    more = {**first, "lr_of_method": {"mutualnet": 0.03, "mutualnet_labels": 0.03}}
    assert driver.fix_sweep(str(tmp_path), more)["lr_of_method"] == {
        "mutualnet": 0.03, "sandwich": 0.01, "mutualnet_labels": 0.03}
    assert json.loads((tmp_path / driver.SWEEP_JSON).read_text())["lr_of_method"]["mutualnet_labels"] == 0.03
    for changed in ({**first, "lr_of_method": {"mutualnet": 0.1}}, {**first, "extend": 1}):
        with pytest.raises(SystemExit, match="use another --out"):
            driver.fix_sweep(str(tmp_path), changed)


def test_time_left_is_the_mean_time_of_the_finished_calls_of_each_kind():
    progress = Progress(jobs=2, total=5)
    progress.plan([("train", "mutualnet"), ("train", "static")])
    assert progress.start() == "[1/5]"
    progress.end(("train", "mutualnet"), {"status": "finished", "wall_s": 600.0})
    assert progress.left() is None  # 3 calls have no kind yet: the time left is unknown
    progress.plan([("train+test", "mutualnet"), ("val", "mutualnet"), ("train", "mutualnet")])
    assert progress.seconds_left() == (300.0, 3)  # 1 more mutualnet training, 2 at a time; 3 kinds never timed
    assert progress.left() == "about 5 min left + 3 calls not timed yet"
    progress.end(("train", "static"), {"status": "diverged", "wall_s": 9.0})  # ended, but says nothing of a time
    progress.end(("train", "mutualnet"), {"status": "finished", "wall_s": 40000.0})
    progress.plan([("train", "mutualnet")], added=True)  # a sweep extension: one call more
    assert progress.total == 6 and progress.seconds_left() == ((600 + 40000) / 2 / 2, 2)
    assert progress.left() == "about 2.8 h left + 2 calls not timed yet"


def test_sweep_extends_past_the_end_where_the_best_rate_is():
    grid = [0.01, 0.03, 0.1]
    nxt = protocol.next_sweep_rate
    assert nxt(grid, {0.01: 70.0, 0.03: 84.0, 0.1: 55.0}, 2) is None  # best inside: done
    assert nxt(grid, {0.01: 88.0, 0.03: 80.0, 0.1: 47.0}, 2) == 0.003
    assert nxt(grid, {0.003: 89.0, 0.01: 88.0, 0.03: 80.0, 0.1: 47.0}, 2) == 0.001
    assert nxt(grid, {0.001: 90.0, 0.003: 89.0, 0.01: 88.0, 0.03: 80.0, 0.1: 47.0}, 2) is None  # at most 2 per end
    assert nxt(grid, {0.003: 85.0, 0.01: 88.0, 0.03: 80.0, 0.1: 47.0}, 2) is None  # the extension was worse
    assert nxt(grid, {0.01: 89.0, 0.03: 94.0, 0.1: 96.0}, 2) == 0.3
    assert nxt(grid, {0.01: 89.0, 0.03: 94.0, 0.1: 96.0, 0.3: 97.0}, 2) == 1.0
    assert nxt(grid, {0.01: 89.0, 0.03: 94.0, 0.1: 96.0, 0.3: None}, 2) is None  # diverged: 0.1 is inside
    assert nxt(grid, {0.01: 89.0, 0.03: 94.0, 0.1: 96.0}, 0) is None  # --extend 0: the grid only
    assert nxt([0.05, 0.1], {0.05: 50.0, 0.1: 50.0}, 1) == 0.03  # a tie goes to the smaller rate: extend below
    assert protocol.best_rate({0.01: 80.0, 0.03: 80.0, 0.1: None}) == 0.01
    with pytest.raises(SystemExit, match="every rate of the sweep diverged"):
        protocol.best_rate({0.3: None, 1.0: None})


def _finite(run):
    numbers = [run["wall_s"], run["train_s"], run["train_gflops"]]
    numbers += [r[k] for split in ("test", "val") for r in run[split] for k in ("gflops", "top1")]
    return all(math.isfinite(x) for x in numbers)


def test_driver_end_to_end_and_resume(data, tmp_path, capsys):
    out, docs = tmp_path / "out", tmp_path / "docs"
    docs.mkdir()
    (docs / "RESULTS.md").write_text("# Results\n\nHand-written notes.\n")
    driver.main(tiny_argv(data, out, docs))
    first = capsys.readouterr().out
    assert first.count(" start ") == first.count(" done ") == 14 and "[14/14] done val" in first  # 4+2 sweep, 8 calls
    assert " start train mutualnet seed 0 lr 0.05\n" in first  # no estimate while the seeds' calls are not planned
    assert re.search(r" start val mutualnet seed 1 lr \S+ \(about \d+ min left", first)  # one is, once they are

    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["lrs"] == [0.05, 0.1] and sweep["extend"] == 1 and sweep["static_config"] == STATIC
    assert set(sweep["methods"]) == {"mutualnet", "static"}
    for method, entry in sweep["methods"].items():
        grid_best = max(LRS, key=lambda lr: (entry["scores"][lr], -float(lr)))
        beyond = "0.03" if grid_best == "0.05" else "0.2"  # the grid's step (x2) past its best end, 1 digit
        assert list(entry["scores"]) == sorted([*LRS, beyond], key=float) and set(entry["run_dirs"]) == set(entry["scores"])
        assert entry["chosen"] == protocol.best_rate({float(lr): score for lr, score in entry["scores"].items()})
        assert entry["scores"][f"{entry['chosen']:g}"] == max(entry["scores"].values())
        for lr, run_dir in entry["run_dirs"].items():  # the sweep trains and validates only: no test number before the choice
            assert Path(run_dir, "driver-train.json").exists()
            assert not (Path(run_dir) / "curve.json").exists() or float(lr) == entry["chosen"]

    saved = json.loads((out / "summary.json").read_text())
    assert saved["calls_wall_s"] > 0 and saved["driver_wall_s"] > 0 and saved["jobs"] == 2 and saved["threads"] == 1
    assert [i["outcome"] for i in saved["invocations"]] == ["finished"] and saved["elapsed_s"] == saved["driver_wall_s"]
    assert saved["bootstrap"]["min_seeds"] == stats.MIN_SEEDS
    assert sorted((r["run"], r["seed"]) for r in saved["runs"]) == [
        ("mutualnet", 0), ("mutualnet", 1), (f"static_{STATIC}", 0), (f"static_{STATIC}", 1)]
    for run in saved["runs"]:
        assert _finite(run) and run["train_gflops"] > 0, run["run"]
        assert run["train_steps"] == 2 and run["clips_per_step"] == 2
        assert run["lr"] == sweep["lr_of_method"][run["method"]]
        assert run["reused_sweep_run"] == (run["seed"] == 0) and ("sweep" in run["output_dir"]) == (run["seed"] == 0)
        assert {r["num_videos"] for r in run["test"]} == {6} and {r["num_videos"] for r in run["val"]} == {4}
        assert {r["views"] for r in run["test"] + run["val"]} == {2} and saved["views"] == 2  # --views
        assert [h["epoch"] for h in run["val_history"]] == [1]
        assert [h["epoch"] for h in run["train_history"]] == [1] and 0 <= run["train_history"][0]["top1"] <= 100
        assert set(run["test_factors"]) == {str(row_config(r)) for r in run["test"]}
        for factors in run["test_factors"].values():  # 2 classes of one object: the object is always right
            assert factors["object"] == 100.0 and 0 <= factors["direction"] <= 100
    static = saved["analysis"]["static"][0]
    assert static["config"] == STATIC and static["gflops"] == static["mutualnet_gflops"]
    for diff in (static["diff_same"], static["diff_within"]):
        lo, hi = diff["ci"]
        assert diff["n"] == 2 and lo <= diff["mean"] <= hi and diff["verdict"] == "undecided"  # 2 seeds < 5
        assert min(diff["per_seed"]) <= lo and hi <= max(diff["per_seed"])
    assert [c["id"] for c in saved["analysis"]["claims"]] == ["static_same_config", "static_within_budget"]
    assert saved["analysis"]["cost_ratios"]["train_gflops"] > 1  # 4 configs a step vs the full one alone

    text = (docs / "RESULTS.md").read_text()
    assert text.startswith("# Results\n\nHand-written notes.") and saved["command"] in text
    assert "### Learning-rate sweep" in text and "(1a) MutualNet vs a static model" in text
    assert "Too few seeds for a verdict**: 2 seeds; a verdict needs at least 5" in text
    for name in (report.CURVE_PLOT, report.VAL_PLOT):
        with Image.open(docs / f"{name}.png") as image:
            image.verify()

    records = sorted(out.rglob("driver-*.json"))
    assert len(records) == 14 and {json.loads(p.read_text())["threads"] for p in records} == {1}
    for path in records:  # the grids test --views clips per video; training does not name them
        command = json.loads(path.read_text())["command"]
        assert command[:3] == ["tools/run_net.py", "--cfg", "configs/demo/X3D_DEMO.yaml"]  # fits any checkout
        assert ("TEST.NUM_ENSEMBLE_VIEWS" in command) == (path.name != "driver-train.json")
    before = {p: p.read_text() for p in records}
    curves = {p: p.stat().st_mtime_ns for p in out.rglob("curve.json") if "mean" not in p.parts}  # not the plot's
    assert len(curves) == 8  # 4 runs: test and val grids
    driver.main(tiny_argv(data, out, docs))
    again = capsys.readouterr().out
    assert again.count(" skip ") == 14 and " start " not in again
    assert {p: p.read_text() for p in records} == before  # no call ran again: its record is unchanged
    assert {p: p.stat().st_mtime_ns for p in curves} == curves
    assert (docs / "RESULTS.md").read_text().count(report.SECTION_BEGIN) == 1
    invocations = json.loads((out / driver.INVOCATIONS_JSON).read_text())
    assert [i["outcome"] for i in invocations] == ["finished", "finished"] and all(i["wall_s"] > 0 for i in invocations)
    assert "2 invocations of the driver" in (docs / "RESULTS.md").read_text()

    for weights in out.rglob("*.pyth"):  # the records alone keep the finished work (experiments/runs keeps no weights)
        weights.unlink()
    driver.main(tiny_argv(data, out, docs))
    assert capsys.readouterr().out.count(" skip ") == 14 and {p: p.read_text() for p in records} == before


def test_a_finished_sweep_is_adopted_not_run_again(data, tmp_path, capsys):
    sweep = {"seed": 0, "lrs": [0.05, 0.1], "extend": 1, "epochs": 1, "data_version": GENERATOR_VERSION,
             "criterion": "val top-1", "static_config": STATIC, "provenance": "a sweep of another machine",
             "methods": {"mutualnet": {"scores": {"0.05": 50.0, "0.1": 60.0}, "chosen": 0.1},
                         "static": {"scores": {"0.05": 70.0, "0.1": 40.0, "0.03": 65.0}, "chosen": 0.05}}}
    record, docs = tmp_path / "sweep.json", tmp_path / "docs"
    record.write_text(json.dumps(sweep))
    argv = tiny_argv(data, tmp_path / "out", docs, seeds=("0",))
    summary = driver.main(["--sweep-from", str(record), *argv])
    printed = capsys.readouterr().out
    assert printed.count(" start ") == printed.count(" done ") == 4 and "start train " not in printed  # 2 runs x (train+test, val)
    assert not (tmp_path / "out" / "sweep").exists()
    assert {(r["run"], r["lr"], r["reused_sweep_run"]) for r in summary["runs"]} == {
        ("mutualnet", 0.1, False), (f"static_{STATIC}", 0.05, False)}
    fixed = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert fixed["adopted_from"] == str(record) and fixed["lr_of_method"] == {"mutualnet": 0.1, "static": 0.05}
    text = (docs / "RESULTS.md").read_text()
    assert f"`{record}` (`--sweep-from`)" in text and "a sweep of another machine" in text
    assert f"| {report.LABELS['static']} | 65.0 | **70.0** | 40.0 | 0.05 |" in text

    record.write_text(json.dumps({**sweep, "epochs": 2, "methods": {"static": sweep["methods"]["static"]}}))
    with pytest.raises(SystemExit, match="does not fit this protocol: epochs 2 \\(here 1\\); no sweep of mutualnet"):
        driver.main(["--sweep-from", str(record), *tiny_argv(data, tmp_path / "other", docs, seeds=("0",))])


def test_a_folder_with_outputs_of_another_driver_is_refused(tmp_path):
    folder = tmp_path / "seed0" / "mutualnet"
    (folder / "checkpoints").mkdir(parents=True)  # e.g. the older driver's run: run_net would resume it
    (folder / "driver.json").write_text("{}")
    call = runner.Call("train+test", "train+test mutualnet", str(folder), driver.BASE_CFG,
                       tuple(runner.stage_opts("train+test", str(folder))))
    with pytest.raises(SystemExit, match="did not make"):
        runner.execute(call, driver.load_cfg, "[1/1]")
    assert not (folder / "driver-train+test.json").exists()


def test_a_finished_training_is_not_continued_on_another_schedule(tmp_path):
    """SOLVER.MAX_EPOCH changed after a run finished (e.g. edited in the base config): the driver stops
    instead of letting run_net resume the finished run to the new epoch count."""
    folder = tmp_path / "sweep" / "mutualnet-lr0.1"
    call = runner.Call("train", "train mutualnet", str(folder), driver.BASE_CFG,
                       tuple(runner.stage_opts("train", str(folder))))
    folder.mkdir(parents=True)
    (folder / "json_stats.log").write_text("".join(
        f'json_stats: {{"_type": "train_epoch", "epoch": "{e}/2", "step": {e}}}\n' for e in (1, 2)))
    (folder / "driver-train.json").write_text(json.dumps({"stage": "train", "command": call.command, "threads": 1,
                                                          "wall_s": 5.0, "status": "finished"}))
    assert results.last_epoch(str(folder)) == 2
    asked = driver.load_cfg(list(call.opts)).SOLVER.MAX_EPOCH
    with pytest.raises(SystemExit, match=f"finished at epoch 2, but the config now asks for SOLVER.MAX_EPOCH {asked}"):
        runner.execute(call, driver.load_cfg, "[1/1]")
    assert json.loads((folder / "driver-train.json").read_text())["status"] == "finished"  # untouched
    assert results.last_epoch(str(tmp_path)) == 0


def test_a_grid_calibrated_on_fewer_bn_batches_is_stale(tmp_path):
    """The config asks for more BN batches than the grid was calibrated on: the call is not
    complete (so a resumed driver evaluates it again), and the val grid gets the test grid's bank."""
    opts = ["OUTPUT_DIR", str(tmp_path / "run")]
    cfg = load_config([driver.BASE_CFG], opts)  # MUTUALNET.EVAL_GRID.BN_BATCHES 48
    rows = [{**sub.to_dict(), "gflops": 1.0, "params": 1, "top1": 50.0, "top5": 100.0, "num_videos": 480,
             "bn_batches": 8, "views": 1} for sub in SubnetSpace(cfg).eval_grid()]
    BudgetTable(rows).save(str(tmp_path / "run" / CURVE_JSON))
    assert not results.curve_complete(cfg)
    assert results.curve_complete(load_config([driver.BASE_CFG], opts + ["MUTUALNET.EVAL_GRID.BN_BATCHES", "8"]))
    BudgetTable([dict(r, bn_batches=48) for r in rows]).save(str(tmp_path / "run" / CURVE_JSON))
    assert results.curve_complete(cfg)
    assert not results.curve_complete(load_config([driver.BASE_CFG], opts + ["TEST.NUM_ENSEMBLE_VIEWS", "3"]))

    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint_epoch_00032.pyth"
    checkpoint.parent.mkdir()
    torch.save({"epoch": 32, "model_state": {}}, checkpoint)
    checkpoint = str(checkpoint)
    val_cfg = load_config([driver.BASE_CFG], ["OUTPUT_DIR", str(tmp_path / "run" / "val")])
    stale, fresh = BNBank(), BNBank()
    stale.add(SubnetConfig.parse("w1.00-c48-t8"), {"bn": {"mean": torch.zeros(2), "var": torch.ones(2)}}, 8)
    fresh.add(SubnetConfig.parse("w1.00-c48-t8"), {"bn": {"mean": torch.ones(2), "var": torch.ones(2)}}, 48)
    for store_cfg, bank in ((val_cfg, stale), (cfg, fresh)):
        store = BankStore(store_cfg, checkpoint)
        store.bank = bank
        store.save()
    driver.share_bn_bank(cfg, val_cfg, checkpoint)
    shared = BankStore(val_cfg, checkpoint).bank
    assert shared.num_batches(SubnetConfig.parse("w1.00-c48-t8")) == 48
    assert torch.equal(shared.entries["w1.00-c48-t8"]["stats"]["bn"]["mean"], torch.ones(2))


def test_calls_run_with_the_given_torch_threads(tmp_path):
    call = runner.Call("train", "train mutualnet", str(tmp_path), driver.BASE_CFG, (), threads=1)
    assert call.record()["threads"] == 1
    printed = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                             env=call.environment(), capture_output=True, text=True, check=True).stdout
    assert printed.strip() == "1"
    (tmp_path / "driver-train.json").write_text(json.dumps({**call.record(), "threads": 2, "status": "finished"}))
    with pytest.raises(SystemExit, match="made with 2 torch threads, not 1"):
        runner.execute(call, driver.load_cfg, "[1/1]")


def test_run_all_keeps_the_order_and_lets_running_calls_finish_after_a_failure():
    def after(seconds, value):
        def task():
            time.sleep(seconds)
            return value
        return task

    assert runner.run_all([after(0.3, "a"), after(0.0, "b"), after(0.1, "c")], jobs=2) == ["a", "b", "c"]
    running, finished, started = threading.Event(), threading.Event(), []

    def fails():
        started.append("fails")
        assert running.wait(10)
        raise SystemExit("boom")

    def slow():
        started.append("slow")
        running.set()
        time.sleep(0.5)
        finished.set()

    def later():
        started.append("later")

    with pytest.raises(SystemExit, match="boom"):
        runner.run_all([fails, slow, later, later], jobs=2)
    assert finished.is_set() and sorted(started) == ["fails", "slow"]  # none started after the failure


def _processes_mentioning(*texts: str):
    """Pids of the live processes whose command line contains every one of ``texts``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
                if all(text.encode() in cmdline for text in texts):
                    pids.append(int(pid))
        except OSError:
            pass  # it ended meanwhile
    return pids


def test_sigterm_stops_the_calls_and_records_their_time(data, tmp_path):
    """SIGTERM to the driver (as a scheduler or ``kill`` sends it): its run_net processes stop, the
    interrupted calls keep their wall time, the invocation is recorded as stopped, nothing else starts."""
    out = tmp_path / "out"
    argv = tiny_argv(data, out, tmp_path)
    driver_process = subprocess.Popen([sys.executable, os.path.join(driver.ROOT, "experiments", "reproduce_synthetic.py"),
                                       *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while len([p for p in out.rglob(runner.RUN_OUTPUT) if p.stat().st_size > 0]) < 2:  # both calls are running
        assert time.time() < deadline and driver_process.poll() is None, driver_process.stdout.read()
        time.sleep(0.2)
    assert len(_processes_mentioning(runner.RUN_NET, str(out))) == 2
    driver_process.send_signal(signal.SIGTERM)
    printed, _ = driver_process.communicate(timeout=120)
    assert driver_process.returncode == 128 + signal.SIGTERM, printed
    assert _processes_mentioning(runner.RUN_NET, str(out)) == []
    records = [json.loads(p.read_text()) for p in out.rglob("driver-*.json")]
    assert len(records) == 2 and all(r["status"] == "running" and r["wall_s"] > 0 for r in records)
    invocation, = json.loads((out / driver.INVOCATIONS_JSON).read_text())
    assert invocation["outcome"] == "stopped" and invocation["wall_s"] > max(r["wall_s"] for r in records)
    assert printed.count(" start ") == 2 and " done " not in printed


def test_a_sweep_training_that_diverges_is_a_result_any_other_call_fails(data, tmp_path, capsys):
    args = driver.parse_args(tiny_argv(data, tmp_path / "out", tmp_path) + ["SOLVER.WARMUP_EPOCHS", "0.0"])
    plan = driver.Plan(args, driver.load_cfg(driver.common_opts(args)), [], 0)
    run = protocol.Run("mutualnet", 0, 1e30)
    call = plan.sweep_call(run)
    record = plan.execute(call, run)
    assert record["status"] == "diverged" and record["wall_s"] > 0
    assert results.diverged(call.output_dir) and results.sweep_score(call.output_dir) is None
    assert plan.execute(call, run) == record and "skip train mutualnet seed 0 lr 1e+30: diverged earlier" in capsys.readouterr().out
    seed_run = protocol.Run("mutualnet", 1, 1e30)
    with pytest.raises(SystemExit, match="failed"):
        plan.execute(plan.call("train+test", seed_run, seed_run.seed_dir(args.out)), seed_run)
    assert results.diverged(seed_run.seed_dir(args.out))


def test_errors_per_factor_from_the_saved_predictions(tmp_path):
    names = ["disc_left", "disc_up", "square_left", "square_up"]
    (tmp_path / "classids.json").write_text(json.dumps({n: i for i, n in enumerate(names)}))
    assert results.class_names(str(tmp_path)) == names
    (tmp_path / "predictions.json").write_text(json.dumps({
        "checkpoint": "c.pyth", "labels": [0, 1, 2, 3, -1],
        "top1": {"w1.00-c48-t8": [0, 3, 3, 0, 0],  # right, object wrong, direction wrong, both wrong; unseen
                 "w0.50-c32-t4": [0, 3, 0, 1, 1]}}))  # right, then object wrong 3 times
    factors = results.factor_accuracy(str(tmp_path), names)
    assert factors == {"w1.00-c48-t8": {"object": 50.0, "direction": 50.0},
                       "w0.50-c32-t4": {"object": 25.0, "direction": 100.0}}
    assert results.factor_accuracy(str(tmp_path), ["abseiling", "archery", "bowling", "juggling_balls"]) == {}
    assert results.factor_accuracy(str(tmp_path / "missing"), names) == {}
