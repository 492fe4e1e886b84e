"""experiments/stats.py and experiments/analysis.py on known inputs (no training)."""
import pytest

from experiments import analysis, stats


def row(config: str, gflops: float, top1: float) -> dict:
    width, crop, frames = config[1:].split("-")
    return {"width": float(width), "crop": int(crop[1:]), "frames": int(frames[1:]), "gflops": gflops,
            "params": 10, "top1": top1, "top5": 100.0, "num_videos": 4}


def test_constant_differences_give_a_zero_width_interval_at_that_value():
    d = stats.paired_difference({s: 50.0 + 5 * s for s in range(5)}, {s: 47.5 + 5 * s for s in range(5)})
    assert d["per_seed"] == [2.5] * 5 and d["mean"] == 2.5
    assert d["ci"] == [2.5, 2.5] and d["verdict"] == "held"


def test_interval_is_a_percentile_interval_of_resampled_means():
    values = [-1.0, 0.0, 1.0, 2.0, 10.0]
    lo, hi = stats.bootstrap_ci(values)
    assert min(values) <= lo < sum(values) / len(values) < hi <= max(values)
    assert stats.bootstrap_ci(values) == [lo, hi]  # fixed RNG seed: reproducible
    narrow = stats.bootstrap_ci(values, level=0.5)
    assert lo < narrow[0] <= narrow[1] < hi


def test_verdicts():
    assert stats.verdict([0.1, 3.0]) == "held"
    assert stats.verdict([-3.0, -0.1]) == "failed"
    assert stats.verdict([-1.0, 1.0]) == stats.verdict([0.0, 1.0]) == "undecided"
    behind = stats.paired_difference({s: 40.0 + s for s in range(5)}, {s: 50.0 for s in range(5)})
    assert behind["ci"][1] < 0 and behind["verdict"] == "failed"
    mixed = stats.paired_difference({0: 40.0, 1: 60.0, 2: 50.0, 3: 45.0, 4: 55.0}, {s: 50.0 for s in range(5)})
    assert mixed["ci"][0] < 0 < mixed["ci"][1] and mixed["verdict"] == "undecided"
    assert stats.tally([mixed, mixed, {"verdict": "held"}]) == {"held": 1, "failed": 0, "undecided": 2}


def test_fewer_seeds_than_the_protocol_give_an_interval_but_no_verdict():
    assert stats.MIN_SEEDS == 5
    for n in (2, 3, 4):  # every seed far behind: still undecided until 5 seeds
        d = stats.paired_difference({s: 40.0 + s for s in range(n)}, {s: 50.0 for s in range(n)})
        assert d["n"] == n and d["ci"][1] < 0 and d["verdict"] == "undecided"
    # with 2 or 3 seeds the 95% percentile interval is just [smallest, largest]: no more than a sign test
    assert stats.bootstrap_ci([-10.0, -9.0, -8.0]) == [-10.0, -8.0]


def test_pairing_needs_the_same_seeds_and_one_seed_has_no_interval():
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_difference({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0})
    single = stats.paired_difference({3: 5.0}, {3: 1.0})
    assert single["ci"] is None and single["verdict"] == "undecided" and single["mean"] == 4.0
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_ci([1.0])


def test_best_within_budget_is_chosen_on_val_and_reported_on_test():
    val = [row("w1.00-c32-t8", 3.0, 90.0), row("w0.50-c32-t8", 1.0, 70.0), row("w0.75-c32-t8", 2.0, 60.0)]
    test = [row("w1.00-c32-t8", 3.0, 80.0), row("w0.50-c32-t8", 1.0, 50.0), row("w0.75-c32-t8", 2.0, 75.0)]
    # within 2 GFLOPs val prefers w0.50 (70 > 60) although w0.75 is better on test
    assert stats.best_within(val, test, 2.0) == {"config": "w0.50-c32-t8", "val_top1": 70.0, "top1": 50.0}
    assert stats.best_within(val, test, 3.0)["config"] == "w1.00-c32-t8"
    assert stats.top1_at(test, "w0.75-c32-t8") == 75.0
    with pytest.raises(KeyError):
        stats.top1_at(test, "w0.25-c32-t8")


def _result(method, seed, test, val=None, config=None, history=(60.0, 70.0)):
    train = (75.0, 85.0 - seed)
    return {"run": method if config is None else f"static_{config}", "method": method, "seed": seed,
            "config": config, "test": test, "val": val or test, "wall_s": 10.0, "train_s": 5.0,
            "train_gflops": 4.0 if config is None else 1.0,
            "val_history": [{"epoch": e + 1, "configs": [], "top1": [t]} for e, t in enumerate(history)],
            "train_history": [{"epoch": e + 1, "top1": t, "loss_full": 1.0 / (e + 1)} for e, t in enumerate(train)],
            "test_factors": {}}


GRID = ("w1.00-c32-t8", 2.0), ("w0.50-c32-t8", 1.0)


def fake_results(seeds=(0, 1, 2, 3, 4)):
    """Results of every method for ``seeds``: MutualNet is +3 over sandwich at the full config and +1
    at the small one on test; on val its small config looks best, so a 2-GFLOPs budget picks it
    although it is worse on test. The width x crop ablation ties, width x frames is -2 / +5; the
    static model at w0.50 is +1 over MutualNet there."""
    results = []
    for seed in seeds:
        mutual_test = [row(c, g, t + seed) for (c, g), t in zip(GRID, (70.0, 60.0))]
        mutual_val = [row(c, g, t) for (c, g), t in zip(GRID, (50.0, 55.0))]
        results.append(_result("mutualnet", seed, mutual_test, mutual_val))
        for method, shift in (("sandwich", (3.0, 1.0)), ("mutualnet_wc", (0.0, 0.0)), ("mutualnet_wt", (-2.0, 5.0))):
            results.append(_result(method, seed, [row(c, g, t + seed - s) for (c, g), t, s in
                                                   zip(GRID, (70.0, 60.0), shift)]))
        results.append(_result("static", seed, [row("w0.50-c32-t8", 1.0, 61.0 + seed)], config="w0.50-c32-t8"))
    return results


def test_analysis_pairs_by_seed_and_chooses_budgets_on_val():
    a = analysis.analyse(fake_results(), ["w0.50-c32-t8"])
    by_config = {r["config"]: r for r in a["grid"]}
    assert by_config["w1.00-c32-t8"]["diff"]["sandwich"]["ci"] == [3.0, 3.0]
    assert by_config["w1.00-c32-t8"]["diff"]["mutualnet_wt"]["verdict"] == "failed"  # -2 at every seed
    assert by_config["w0.50-c32-t8"]["diff"]["mutualnet_wt"]["ci"] == [5.0, 5.0]
    assert by_config["w1.00-c32-t8"]["diff"]["mutualnet_wc"]["verdict"] == "undecided"
    top_budget = a["budgets"][-1]
    assert top_budget["gflops"] == 2.0 and set(top_budget["chosen"]["mutualnet"].values()) == {"w0.50-c32-t8"}
    assert top_budget["top1"]["mutualnet"]["mean"] == 62.0  # the val choice's test top-1, not the best test top-1
    static = a["static"][0]
    assert static["diff_same"]["ci"] == [-1.0, -1.0] and static["diff_same"]["verdict"] == "failed"
    claims = {c["id"]: c for c in a["claims"]}
    assert claims["static_same_config"]["tally"] == {"held": 0, "failed": 1, "undecided": 0}
    assert claims["sandwich_same_config"]["tally"]["held"] == 2
    assert a["cost_ratios"]["train_gflops"] == 4.0
    assert a["val_curves"]["mutualnet"] == [{"epoch": 1, "mean": 60.0, "std": 0.0, "n": 5},
                                            {"epoch": 2, "mean": 70.0, "std": 0.0, "n": 5}]
    assert [p["mean"] for p in a["train_curves"]["mutualnet"]] == [75.0, 83.0]  # 85 - seed, seeds 0-4
    fit = {r["run"]: r for r in a["fit"]}
    # the largest config each run trains: MutualNet's full one, the static model's own; the last epoch
    assert fit["mutualnet"]["config"] == "w1.00-c32-t8" and fit["static_w0.50-c32-t8"]["config"] == "w0.50-c32-t8"
    assert fit["mutualnet"]["train_top1"]["mean"] == 83.0 and fit["mutualnet"]["loss_full"]["mean"] == 0.5
    assert fit["mutualnet"]["test_top1"]["mean"] == 72.0 and fit["mutualnet"]["gap"]["mean"] == 11.0
    assert fit["static_w0.50-c32-t8"]["gap"]["mean"] == 83.0 - 63.0


def test_analysis_of_a_method_subset_has_only_its_claims():
    results = [r for r in fake_results() if r["method"] in ("mutualnet", "static")]
    a = analysis.analyse(results, ["w0.50-c32-t8"])
    assert [c["id"] for c in a["claims"]] == ["static_same_config", "static_within_budget"]
    assert list(a["grid"][0]["top1"]) == ["mutualnet"] and a["grid"][0]["diff"] == {}
    no_static = analysis.analyse([r for r in fake_results() if r["method"] != "static"], [])
    assert no_static["static"] == [] and no_static["cost_ratios"] is None
    assert [c["id"] for c in no_static["claims"]][:2] == ["sandwich_same_config", "sandwich_within_budget"]


def test_errors_per_factor_at_the_cheapest_and_the_full_config():
    results = fake_results()
    for r in results:  # MutualNet's seeds 0-3 saved predictions; seed 4's grid did not
        if r["method"] == "mutualnet" and r["seed"] < 4:
            r["test_factors"] = {"w1.00-c32-t8": {"object": 80.0 + r["seed"], "direction": 100.0},
                                 "w0.50-c32-t8": {"object": 60.0, "direction": 99.0}}
        if r["method"] == "static":
            r["test_factors"] = {"w0.50-c32-t8": {"object": 70.0, "direction": 98.0}}
    table = analysis.analyse(results, ["w0.50-c32-t8"])["factors"]
    rows = {(r["run"], r["config"]): r for r in table}
    assert list(rows) == [("mutualnet", "w0.50-c32-t8"), ("mutualnet", "w1.00-c32-t8"),
                          ("static_w0.50-c32-t8", "w0.50-c32-t8")]  # cheapest first; no rows for sandwich
    full = rows["mutualnet", "w1.00-c32-t8"]
    assert full["object"]["mean"] == 81.5 and full["object"]["n"] == 4 and full["direction"]["mean"] == 100.0
    assert full["top1"]["mean"] == 71.5  # test top-1 of the same 4 seeds (70 + seed)
    assert rows["static_w0.50-c32-t8", "w0.50-c32-t8"]["object"]["n"] == 5
    assert analysis.factor_table(fake_results()) == []
