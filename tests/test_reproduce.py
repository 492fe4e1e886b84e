"""experiments/reproduce_synthetic.py: the reproduction driver, end to end on a tiny data set."""
import importlib.util
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from data_prep.make_synthetic import make_synthetic

ROOT = Path(__file__).resolve().parents[1]
STATIC = "w1.00-c32-t4"


def _load_driver():
    path = ROOT / "experiments" / "reproduce_synthetic.py"
    spec = importlib.util.spec_from_file_location("reproduce_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


driver = _load_driver()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_classes=2, train_per_class=4, val_per_class=2, test_per_class=2,
                          frames=8, size=32).root


def tiny_argv(data, out, docs):
    """One epoch, one seed, 4 steps of 2 clips, a 2-config grid and one static baseline."""
    return ["--epochs", "1", "--seeds", "0", "--out", str(out), "--docs", str(docs), "--static-configs", STATIC,
            "--opts", "DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data), "MODEL.NUM_CLASSES", "2",
            "TRAIN.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "2", "DATA_LOADER.NUM_WORKERS", "0",
            "BN.NUM_BATCHES_PRECISE", "1", "LOG_PERIOD", "1", "MUTUALNET.EVAL_GRID.WIDTHS", "[0.5, 1.0]",
            "MUTUALNET.EVAL_GRID.CROPS", "[32]", "MUTUALNET.EVAL_GRID.FRAMES", "[4]"]


def test_static_opts_keep_the_clip_span_and_field_of_view():
    cfg = driver.load_config([str(ROOT / driver.BASE_CFG)])  # 8 frames x rate 8 at crop 32, jitter [32, 40]
    opts = driver.static_opts(cfg, driver.SubnetConfig.parse("w0.50-c24-t4"))
    values = dict(zip(opts[0::2], opts[1::2]))
    assert values["DATA.SAMPLING_RATE"] == "16" and values["DATA.NUM_FRAMES"] == "4"
    assert values["DATA.TRAIN_JITTER_SCALES"] == "[24, 30]" and values["DATA.TRAIN_CROP_SIZE"] == "24"
    assert values["MUTUALNET.WIDTH_RANGE"] == "[0.5, 0.5]"


def test_driver_end_to_end_and_resume(data, tmp_path, capsys):
    out, docs = tmp_path / "out", tmp_path / "docs"
    docs.mkdir()
    (docs / "RESULTS.md").write_text("# Results\n\nHand-written notes.\n")
    summary = driver.main(tiny_argv(data, out, docs))

    saved = json.loads((out / "summary.json").read_text())
    assert {r["run"] for r in saved["runs"]} == {"mutualnet", "sandwich", f"static_{STATIC}"}
    for run in saved["runs"]:
        numbers = [run["wall_s"], run["train_s"], run["train_gflops"]] + [r[k] for r in run["curve"]
                                                                           for k in ("gflops", "top1")]
        assert all(math.isfinite(x) for x in numbers) and run["train_gflops"] > 0, run["run"]
        assert run["train_steps"] == 4 and run["clips_per_step"] == 2
    static = saved["static"][0]
    assert static["config"] == STATIC
    assert static["gflops"] == static["mutualnet_gflops"] and static["params"] == static["mutualnet_params"]
    # MutualNet trains 4 configs per step, the static model 1 cheaper one: it must cost more.
    costs = {r["run"]: r["train_gflops"]["mean"] for r in saved["cost"]}
    assert costs["mutualnet"] > costs[f"static_{STATIC}"]
    assert saved["verdicts"] == summary["verdicts"]

    text = (docs / "RESULTS.md").read_text()
    assert text.startswith("# Results\n\nHand-written notes.") and "python experiments/reproduce_synthetic.py" in text
    with Image.open(docs / "reproduce_curve.png") as image:
        image.verify()
    first = capsys.readouterr().out
    assert first.count(" start ") == 3 and first.count(" done ") == 3

    curves = list(out.glob("seed0/*/curve.json"))
    mtimes = {p: p.stat().st_mtime_ns for p in curves}
    driver.main(tiny_argv(data, out, docs))
    again = capsys.readouterr().out
    assert again.count(" skip ") == 3 and " start " not in again
    assert {p: p.stat().st_mtime_ns for p in curves} == mtimes
    assert (docs / "RESULTS.md").read_text().count(driver.SECTION_BEGIN) == 1
