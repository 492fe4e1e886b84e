"""The README's main job end to end on a tiny synthetic set: train + grid test (run_net), export a
multi-budget bundle (export_net), run a clip through every exported model with ONNX Runtime
(run_bundle)."""
import importlib.util
import os
import pathlib

import simplejson

from mutualnet_video.budget import row_config

from .conftest import run_cfg_yaml

TOOLS = pathlib.Path(__file__).resolve().parents[2] / "tools"


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_test_export_and_run_the_bundle(tmp_path, synthetic_data):
    cfg_file = run_cfg_yaml(tmp_path, synthetic_data)
    _tool("run_net").main(["--cfg", cfg_file])
    out = tmp_path / "run"
    table = simplejson.load(open(out / "query_table.json"))
    assert table and all(k in table[0] for k in ("width", "crop", "frames", "gflops", "top1", "params"))
    cheapest = min(r["gflops"] for r in simplejson.load(open(out / "curve.json")))

    manifest = _tool("export_net").main(["--cfg", cfg_file, "--measure-latency", "--opts",
                                         "EXPORT.BUDGETS", f"[{cheapest * 1.01}, 1.0]", "EXPORT.LATENCY_REPEATS", "2"])
    assert os.path.isfile(out / "export" / "manifest.json") and os.path.isfile(out / "export" / "slimmable.pyth")
    assert manifest["budgets"][0]["gflops"] <= cheapest * 1.01
    for entry in manifest["budgets"]:
        assert entry["latency_ms"]["batch_1"] > 0
        assert max(entry["verification"].values()) <= 1e-4
        assert entry["top1"] is not None  # from the query table
    timed = {str(row_config(r)): r.get("latency_ms") for r in simplejson.load(open(out / "query_table.json"))}
    assert {e["name"]: timed[e["name"]] for e in manifest["budgets"]} == {
        e["name"]: e["latency_ms"]["batch_1"] for e in manifest["budgets"]}

    video = next((synthetic_data.root / "videos").glob("*/val_000.mp4"))
    results = _tool("run_bundle").main(["--bundle", str(out / "export"), "--video", str(video),
                                        "--labels", str(synthetic_data.classids_json), "--repeats", "2"])
    assert len(results) == len(manifest["budgets"])
    assert all(r["label"] in synthetic_data.classes and 0 < r["prob"] <= 1 and r["ms"] > 0 for r in results)
