"""Export: static sub-networks equal the slimmable model, formats verified, bundles checked."""
import os
import subprocess
import sys

import pytest
import simplejson
import torch

from mutualnet_video.budget import BNBank, BudgetError, SubnetSpace, model_stats
from mutualnet_video.budget.flops import count_gflops
from mutualnet_video.config import SubnetConfig
from mutualnet_video.export import (BundleError, SlimmableRuntime, busy_cpu_warning, export_bundle, extract_subnet,
                                    load_bundle, load_static)
from mutualnet_video.models import build_model
from mutualnet_video.slim import width

from .model_cfgs import slowfast_cfg, x3d_cfg


def _tiny_x3d():
    cfg = x3d_cfg("XS", frames=4, crop=64, num_classes=5)
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.DIM_C5 = 1.0, 1.0, 64
    cfg.MUTUALNET.WIDTH_RANGE = [0.5, 1.0]
    cfg.EXPORT.LATENCY_REPEATS, cfg.EXPORT.LATENCY_WARMUP, cfg.EXPORT.LATENCY_BATCH_SIZE = 2, 1, 2
    torch.manual_seed(0)
    return cfg, build_model(cfg).eval()


@pytest.fixture(scope="module", params=["x3d", "slowfast"])
def slimmable(request):
    cfg = x3d_cfg("S", frames=4, crop=64) if request.param == "x3d" else slowfast_cfg(alpha=4, frames=8, crop=64)
    torch.manual_seed(0)
    return request.param, cfg, build_model(cfg).eval()


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75])
def test_extracted_subnet_is_smaller_and_equal(slimmable, w):
    arch, cfg, model = slimmable
    sub = SubnetConfig(w, 48, 2 if arch == "slowfast" else 3)
    static = extract_subnet(model, w).eval()
    stats = model_stats(model, cfg, width=w, crop=sub.crop, frames=sub.frames)
    assert sum(p.numel() for p in static.parameters()) == stats["params"]
    assert count_gflops(static, SubnetSpace(cfg).dummy_input(sub)) == pytest.approx(stats["gflops"], rel=1e-9)
    x = SubnetSpace(cfg).dummy_input(sub, batch=2)
    with torch.no_grad(), width(model, w):
        assert (static(x) - model(x)).abs().max().item() <= 1e-4
    assert model.blocks[0] is not static.blocks[0]  # the slimmable model is untouched


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    cfg, model = _tiny_x3d()
    out = str(tmp_path_factory.mktemp("bundle"))
    bank = BNBank()
    rows = []
    for i, (w, crop, frames) in enumerate([(0.5, 48, 2), (1.0, 64, 4)]):
        sub = SubnetConfig(w, crop, frames)
        g = torch.Generator().manual_seed(i)
        bank.calibrate(model, [torch.randn(4, 3, frames, crop, crop, generator=g) for _ in range(2)], sub, 2)
        rows.append(dict(sub.to_dict(), gflops=model_stats(model, cfg, w, frames, crop)["gflops"], top1=50.0 + 10 * i))
    ckpt = os.path.join(out, "source.pyth")
    torch.save({"model_state": model.state_dict()}, ckpt)
    manifest = export_bundle(model, cfg, bank, rows, os.path.join(out, "export"), source_checkpoint=ckpt,
                             query_table=rows, measure_latency=True)
    return cfg, model, bank, rows, os.path.join(out, "export"), manifest


def test_manifest_records_configs_files_diffs_and_latency(bundle):
    cfg, _, _, rows, root, manifest = bundle
    on_disk = simplejson.load(open(os.path.join(root, "manifest.json")))
    assert on_disk == simplejson.loads(simplejson.dumps(manifest))
    assert len(manifest["source_checkpoint"]["sha256"]) == 64
    for entry, row in zip(manifest["budgets"], rows):
        assert entry["config"] == {"width": row["width"], "crop": row["crop"], "frames": row["frames"]}
        assert set(entry["files"]) == {"pyth", "torchscript", "onnx"}
        assert all(v <= 1e-4 for v in entry["verification"].values()), entry["verification"]
        assert entry["latency_ms"]["batch_1"] > 0 and entry["latency_ms"]["batch_2"] > 0
        assert entry["input"]["frames"] == row["frames"] and entry["input"]["mean"] == list(cfg.DATA.MEAN)
        assert entry["top1"] == row["top1"] and entry["gflops"] == row["gflops"]


def test_static_pyth_reloads_and_matches(bundle):
    cfg, model, bank, rows, root, manifest = bundle
    entry = manifest["budgets"][0]
    static = load_static(os.path.join(root, entry["files"]["pyth"]["path"]))
    sub = SubnetConfig(**entry["config"])
    x = SubnetSpace(cfg).dummy_input(sub, batch=1)
    bank.apply(model, sub)
    with torch.no_grad(), width(model, sub.width):
        assert (static(x) - model(x)).abs().max().item() <= 1e-4


def test_torchscript_loads_in_a_fresh_process_without_the_package(bundle, tmp_path):
    _, _, _, _, root, manifest = bundle
    entry = manifest["budgets"][0]
    script = (
        "import sys\n"
        "for name in ('mutualnet_video', 'pytorchvideo', 'fvcore'): sys.modules[name] = None  # not importable\n"
        "import torch\n"
        f"m = torch.jit.load({os.path.join(root, entry['files']['torchscript']['path'])!r})\n"
        f"y = m(torch.zeros(3, 3, {entry['config']['frames']}, {entry['config']['crop']}, {entry['config']['crop']}))\n"
        "print(tuple(y.shape))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(3, 5)"


def test_onnx_runtime_matches_with_dynamic_batch(bundle):
    import onnxruntime as ort

    cfg, _, _, _, root, manifest = bundle
    entry = manifest["budgets"][1]
    static = load_static(os.path.join(root, entry["files"]["pyth"]["path"]))
    session = ort.InferenceSession(os.path.join(root, entry["files"]["onnx"]["path"]), providers=["CPUExecutionProvider"])
    x = SubnetSpace(cfg).dummy_input(SubnetConfig(**entry["config"]), batch=3)
    (logits,) = session.run(None, {"video": x.numpy()})
    with torch.no_grad():
        assert abs(torch.from_numpy(logits) - static(x)).max().item() <= 1e-4


def test_select_by_budget(bundle):
    _, _, _, _, root, _ = bundle
    b = load_bundle(root)
    small, large = b.entries[0], b.entries[1]
    assert b.select(gflops=large["gflops"]).name == large["name"]
    chosen = b.select(gflops=(small["gflops"] + large["gflops"]) / 2)
    assert chosen.name == small["name"] and chosen.spec.crop == small["config"]["crop"]
    assert chosen.model(torch.zeros(1, 3, chosen.spec.frames, chosen.spec.crop, chosen.spec.crop)).shape == (1, 5)
    assert b.select(latency_ms=1e9).name == large["name"]
    with pytest.raises(BudgetError, match="no config fits"):
        b.select(gflops=small["gflops"] / 2)


def test_tampered_or_missing_files_are_refused(bundle, tmp_path):
    import shutil

    _, _, _, _, root, manifest = bundle
    copy = str(tmp_path / "copy")
    shutil.copytree(root, copy)
    load_bundle(copy)
    onnx_path = os.path.join(copy, manifest["budgets"][0]["files"]["onnx"]["path"])
    with open(onnx_path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="modified after export"):
        load_bundle(copy)
    os.remove(onnx_path)
    with pytest.raises(BundleError, match="missing"):
        load_bundle(copy)
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(str(tmp_path))


def test_shared_weight_runtime_switches_budget_without_reloading(bundle):
    cfg, _, _, rows, root, manifest = bundle
    runtime = SlimmableRuntime.load(os.path.join(root, "slimmable.pyth"))
    clip = torch.randn(1, 3, 4, 64, 64)
    weights_before = runtime.model.blocks[0].conv.conv_t.weight
    for entry, budget in ((manifest["budgets"][1], 1e9), (manifest["budgets"][0], rows[0]["gflops"])):
        row = runtime.set_budget(gflops=budget)
        assert row["width"] == entry["config"]["width"]
        static = load_static(os.path.join(root, entry["files"]["pyth"]["path"]))
        sub = SubnetConfig(**entry["config"])
        from mutualnet_video.data.derive import derive_input

        with torch.no_grad():
            torch.testing.assert_close(runtime(clip), static(derive_input(clip, sub)), rtol=0, atol=1e-4)
    assert runtime.model.blocks[0].conv.conv_t.weight is weights_before
    # the exported configs' measured latencies are in the shared artifact's query table
    slow, fast = sorted(manifest["budgets"], key=lambda e: -e["latency_ms"]["batch_1"])
    assert runtime.set_budget(latency_ms=slow["latency_ms"]["batch_1"])["width"] == rows[-1]["width"]
    assert runtime.set_budget(latency_ms=fast["latency_ms"]["batch_1"])["width"] == fast["config"]["width"]


def test_latency_on_a_busy_cpu_is_flagged(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.1, 3.0, 2.0))  # another 2-thread job beside ours
    assert "load average 4.1 on 2 cores" in busy_cpu_warning()
    monkeypatch.setattr(os, "getloadavg", lambda: (2.3, 3.0, 2.0))  # our own 2 threads, nothing else
    assert busy_cpu_warning() is None
