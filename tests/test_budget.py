"""BN calibration per config, the bank, the Pareto frontier, the budget rule and the plot."""
import subprocess
import sys

import pytest
import torch

from mutualnet_video.budget import BNBank, BudgetError, BudgetTable, calibrate_bn, pareto_frontier
from mutualnet_video.budget.calibrate import batch_norms
from mutualnet_video.budget.plot import plot_curves
from mutualnet_video.config import SubnetConfig, get_cfg
from mutualnet_video.export.job import export_plan
from mutualnet_video.models import build_model
from mutualnet_video.slim import width

from .model_cfgs import x3d_cfg


def _tiny():
    cfg = x3d_cfg("XS", frames=4, crop=64, num_classes=5)
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.DIM_C5 = 1.0, 1.0, 64
    cfg.MUTUALNET.WIDTH_RANGE = [0.5, 1.0]
    torch.manual_seed(0)
    return build_model(cfg)


def _batches(sub, n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, sub.frames, sub.crop, sub.crop, generator=g) * 2 + 0.5 for _ in range(n)]


def test_calibration_really_updates_to_the_data_statistics():
    model = _tiny().eval()  # the classic bug: calibrating a model left in eval mode updated nothing
    sub = SubnetConfig(0.5, 48, 2)
    seen = {}

    def keep_input(name):
        def hook(module, args):
            x = args[0].transpose(0, 1).reshape(args[0].shape[1], -1).double()
            seen.setdefault(name, []).append((x.mean(1), x.var(1, unbiased=True)))
        return hook

    handles = [bn.register_forward_pre_hook(keep_input(n)) for n, bn in batch_norms(model)]
    before = {n: bn.running_mean.clone() for n, bn in batch_norms(model)}
    stats = calibrate_bn(model, _batches(sub), sub, num_batches=3)
    for h in handles:
        h.remove()
    assert not model.training and all(bn.momentum == 0.1 for _, bn in batch_norms(model))
    slimmed = []
    for name, bn in batch_norms(model):
        means = torch.stack([m for m, _ in seen[name]])
        variances = torch.stack([v for _, v in seen[name]])
        n = means.shape[1]
        assert stats[name]["mean"].numel() == n <= bn.num_features
        slimmed.append(n < bn.num_features)
        # equal batch sizes: the cumulative average of batch means is the mean of all the data
        torch.testing.assert_close(stats[name]["mean"].double(), means.mean(0), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(stats[name]["var"].double(), variances.mean(0), rtol=1e-4, atol=1e-5)
        assert not torch.equal(bn.running_mean[:n], before[name][:n])
    assert all(slimmed)  # every BN runs at its width-0.5 slice


def test_calibrate_bn_stops_at_num_batches_and_rejects_empty():
    model, sub = _tiny(), SubnetConfig(1.0, 32, 2)
    calls = []
    calibrate_bn(model, _batches(sub, n=5), sub, num_batches=2, forward=lambda m, x: calls.append(1) or m(x))
    assert len(calls) == 2
    with pytest.raises(ValueError, match="no batches"):
        calibrate_bn(model, [], sub, num_batches=2)


def test_bank_saves_restores_and_does_not_recalibrate(tmp_path):
    model = _tiny()
    bank = BNBank()
    subs = [SubnetConfig(0.5, 32, 2), SubnetConfig(1.0, 64, 4)]
    for sub in subs:
        assert bank.calibrate(model, _batches(sub), sub, num_batches=3)
    assert not bank.calibrate(model, _batches(subs[0]), subs[0], num_batches=3)  # already there
    x = _batches(subs[0], n=1, seed=7)[0]
    bank.apply(model, subs[0])
    with torch.no_grad(), width(model.eval(), 0.5):
        expected = model(x)
    torch.save({"bn_bank": bank.state_dict()}, tmp_path / "ckpt.pyth")
    loaded = BNBank.from_state_dict(torch.load(tmp_path / "ckpt.pyth", weights_only=True)["bn_bank"])
    assert sorted(map(str, loaded.configs())) == sorted(map(str, subs))
    fresh = _tiny()
    fresh.load_state_dict(model.state_dict())
    loaded.apply(fresh, subs[1])  # a different config's stats first ...
    loaded.apply(fresh, subs[0])  # ... then the right ones
    with torch.no_grad(), width(fresh.eval(), 0.5):
        torch.testing.assert_close(fresh(x), expected)
    with pytest.raises(KeyError, match="no calibrated BN statistics"):
        loaded.apply(fresh, SubnetConfig(0.75, 32, 2))


ROWS = [
    {"width": 1.0, "crop": 64, "frames": 8, "gflops": 4.0, "top1": 80.0},
    {"width": 0.5, "crop": 64, "frames": 8, "gflops": 1.5, "top1": 75.0},
    {"width": 1.0, "crop": 48, "frames": 8, "gflops": 2.2, "top1": 74.0},  # dominated by the 1.5 one
    {"width": 0.5, "crop": 32, "frames": 4, "gflops": 0.3, "top1": 60.0},
    {"width": 0.75, "crop": 56, "frames": 8, "gflops": 3.0, "top1": 79.0},
    {"width": 0.75, "crop": 48, "frames": 6, "gflops": 3.5, "top1": 79.0},  # ties a cheaper one
]


def test_frontier_drops_dominated_configs_and_is_monotone():
    frontier = pareto_frontier(ROWS)
    assert [r["gflops"] for r in frontier] == [0.3, 1.5, 3.0, 4.0]
    assert all(a["gflops"] < b["gflops"] and a["top1"] < b["top1"] for a, b in zip(frontier, frontier[1:]))
    for r in ROWS:  # every config off the frontier is dominated by one on it
        if r not in frontier:
            assert any(f["gflops"] <= r["gflops"] and f["top1"] >= r["top1"] for f in frontier)


def test_select_edges():
    table = BudgetTable(pareto_frontier(ROWS))
    assert table.select(gflops=4.0)["gflops"] == 4.0
    assert table.select(gflops=2.9)["gflops"] == 1.5
    assert table.select(gflops=0.3)["top1"] == 60.0  # exactly at the budget
    with pytest.raises(BudgetError, match="cheapest is w0.50-c32-t4"):
        table.select(gflops=0.1)
    with pytest.raises(ValueError, match="measure-latency"):
        table.select(latency_ms=10)
    timed = BudgetTable(dict(r, latency_ms=r["gflops"] * 10) for r in table)
    assert timed.select(latency_ms=20)["gflops"] == 1.5
    assert timed.select(gflops=4.0, latency_ms=31)["gflops"] == 3.0
    with pytest.raises(ValueError, match="needs a budget"):
        table.select()


def test_one_rule_for_ties_and_unmeasured_rows():
    """Equal accuracy: the cheaper config (the whole curve, not only the frontier); rows without a
    measured accuracy (a grid not evaluated yet): the costliest that fits."""
    assert BudgetTable(ROWS).select(gflops=3.6)["gflops"] == 3.0  # 79.0 at 3.0 and at 3.5
    unmeasured = BudgetTable(dict(r, top1=None) for r in ROWS)
    assert unmeasured.select(gflops=3.6)["gflops"] == 3.5
    mixed = BudgetTable([dict(ROWS[0], top1=None)] + ROWS[1:])
    assert mixed.select(gflops=10)["gflops"] == 3.0  # a measured 79% beats the unmeasured 4.0 GFLOPs row


def test_export_plan_lists_every_budget_a_config_serves():
    """Two budgets served by one config: exported once, with both budgets (export_net used to drop
    the budget labels in that case)."""
    cfg = get_cfg()
    cfg.EXPORT.BUDGETS = [0.35, 0.4, 3.6]
    plan = export_plan(cfg, model=None, table=BudgetTable(ROWS))
    assert [(r["gflops"], r["budget_gflops"]) for r in plan] == [(0.3, [0.35, 0.4]), (3.0, [3.6])]


def test_latency_budget_uses_the_measured_rows_only():
    table = BudgetTable(pareto_frontier(ROWS))
    names = [str(SubnetConfig(r["width"], r["crop"], r["frames"])) for r in table]
    partly = table.with_latencies({names[0]: 5.0, names[-1]: 40.0})
    assert [r.get("latency_ms") for r in partly] == [5.0] + [None] * (len(table) - 2) + [40.0]
    assert "latency_ms" not in table.rows[0]  # copies, the input is untouched
    assert partly.select(latency_ms=39)["gflops"] == table.rows[0]["gflops"]  # unmeasured rows never chosen
    assert partly.select(latency_ms=40)["gflops"] == table.rows[-1]["gflops"]
    assert partly.select(gflops=table.rows[-1]["gflops"] - 1e-6, latency_ms=100) == partly.rows[0]
    with pytest.raises(BudgetError, match="5.0 ms"):
        partly.select(latency_ms=1)


def test_rows_round_trip_and_plot_is_a_valid_image(tmp_path):
    BudgetTable(ROWS).save(tmp_path / "curve.json", tmp_path / "curve.csv")
    assert BudgetTable.load(tmp_path / "curve.json").rows == ROWS
    assert (tmp_path / "curve.csv").read_text().splitlines()[0].startswith("width,crop,frames,gflops")
    png, pdf = str(tmp_path / "curve.png"), str(tmp_path / "curve.pdf")
    static = [{"width": 1.0, "crop": 64, "frames": 8, "gflops": 4.0, "top1": 78.0}]
    plot_curves({"mutualnet": ROWS}, [png, pdf], markers={"static X3D": static})
    import matplotlib.image as mpimg

    image = mpimg.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.01  # not blank
    assert open(pdf, "rb").read(5) == b"%PDF-"


def test_importing_the_engine_does_not_load_matplotlib():
    """Plotting imports matplotlib when it draws, and never switches the caller's backend."""
    code = "import sys, mutualnet_video.engine, mutualnet_video.budget; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
