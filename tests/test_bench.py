"""bench/run_all.py --smoke and bench/gpu.py --smoke (on the CPU) run end to end and write every
section. No speed target is asserted: those live in the benchmarks' tables, never in tests."""
import json
import math
import os
import statistics
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ("slimmable_vs_static", "train_step", "loader", "loader_vs_raw_detail", "export_latency",
            "achieved_gflops", "scaling")


def numbers(tree):
    """Every int / float leaf of a json tree."""
    if isinstance(tree, dict):
        return [n for v in tree.values() for n in numbers(v)]
    if isinstance(tree, list):
        return [n for v in tree for n in numbers(v)]
    return [tree] if isinstance(tree, (int, float)) and not isinstance(tree, bool) else []


def test_run_all_smoke(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run_all.py"), "--smoke", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "== summary" in proc.stdout
    result = json.loads(out.read_text())

    for key in ("slim_overhead", "step_ratio", "loader_ratio", "loader_vs_raw_worst"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert [c["key"] for c in result["checks"]] == [
        "slim_overhead", "step_ratio", "loader_ratio", "loader_vs_raw_worst"]
    assert set(result["loader_vs_raw"]) == {"h264_320x240", "vp9_320x240"}
    detail = result["loader_vs_raw_detail"]
    for codec, row in detail["rows"].items():  # the ratio: the median over rounds of raw time / loader time
        assert len(row["round_ratios"]) == detail["setting"]["rounds"] and row["raw"] > 0 and row["loader"] > 0
        assert row["ratio"] == pytest.approx(statistics.median(row["round_ratios"]), abs=1e-3), codec
        assert result["loader_vs_raw"][codec] == row["ratio"]
    assert all(c["result"] in ("PASS", "MISS") for c in result["checks"])
    for key in SECTIONS:
        values = numbers(result[key])
        assert values and all(math.isfinite(v) for v in values), key
    assert len(result["slimmable_vs_static"]["rows"]) == 4
    assert {r["batch"] for r in result["export_latency"]["rows"]} == {1, 8}
    for model in result["achieved_gflops"]["models"].values():
        assert model["input_shapes"] and {"eager", "channels_last_3d"} <= set(model["variants"])
    assert all(r["peak_mib"] > 0 for r in result["scaling"]["rows"])

    machine = result["machine"]
    for key in ("cpu", "cores", "python", "torch", "torch_threads", "date"):
        assert machine[key], key


def test_gpu_suite_runs_its_code_on_a_cpu(tmp_path):
    """bench/gpu.py is meant for a CUDA device; ``--device cpu --smoke`` runs every section of the
    same code (AMP = bfloat16 autocast), so it cannot rot on machines without one."""
    out = tmp_path / "results_gpu.json"
    script = os.path.join(ROOT, "bench", "gpu.py")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    refused = subprocess.run([sys.executable, script, "--smoke", "--out", str(out)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "no CUDA device" in refused.stderr and not out.exists()

    proc = subprocess.run([sys.executable, script, "--smoke", "--device", "cpu", "--out", str(out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for key in ("slim_overhead", "slim_overhead_amp", "step_ratio", "step_ratio_amp"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert [r["width"] for r in result["slim_forward"]["rows"]] == [0.25, 0.5, 0.75, 1.0]
    assert result["slim_forward"]["amp_dtype"] == "torch.bfloat16"
    for precision in ("fp32", "amp"):
        step = result["train_step"][precision]
        assert set(step["static_ms"]) == set(step["configs"]) and len(step["configs"]) >= 2
        assert set(step["peak_mib"]) == {"mutual", *step["configs"]}
        assert all(v is None for v in step["peak_mib"].values())  # CUDA memory only
    for model in result["throughput"]["models"].values():
        assert set(model["variants"]) == {"fp32", "amp", "amp_channels_last_3d"}
        assert set(model["matmul_tflop_per_s"]) == {"matmul_fp32", "matmul_bfloat16"}
        for v in model["variants"].values():  # GFLOP per ms is TFLOP/s
            assert v["tflop_per_s"] == pytest.approx(model["gflop_per_forward"] / v["ms"]) and v["tflop_per_s"] > 0
            assert 0 < v["fraction_of_matmul"] < 100
    assert result["device"] == "cpu" and result["machine"]["cuda"] is None


def test_step_profile_splits_a_mutual_step(tmp_path):
    """bench/bench_step_profile.py: every category measured once (``other`` = wall time minus the
    rest stays positive: no operator is counted twice), depthwise, pointwise and other dense convs told
    apart."""
    out = tmp_path / "profile.json"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_step_profile.py"),
                           "--cfg", os.path.join(ROOT, "configs", "demo", "X3D_DEMO.yaml"), "--batch", "2",
                           "--steps", "1", "--threads", "1", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    ms = result["ms"]
    assert set(ms) == {"conv_backward_depthwise", "conv_backward_dense", "conv_forward_depthwise",
                       "conv_forward_dense", "pointwise_matmul", "batch_norm", "other"}
    assert all(v > 0 for v in ms.values()), ms  # X3D has all three kinds of conv, and BN
    assert sum(ms.values()) == pytest.approx(result["step_ms"])
    assert sum(result["fraction"].values()) == pytest.approx(1.0)
    assert len(result["configs"]) == 4 and result["configs"][0] == "w1.00-c48-t8"
