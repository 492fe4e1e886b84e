"""The reproduction's tables and claims, from the per-run results (one dict per run and seed, as
``reproduce_synthetic.run_result`` makes them: ``method``, ``seed``, ``config``, ``test`` and ``val``
curves, ``val_history``, ``train_history``, costs).

Top-1 is the multi-view **test** top-1 of the grid evaluation. "Best within a budget" is the config
with the best **val** top-1 (the grid evaluated on the val videos with test-time views) among those
within the GFLOPs, reported with its test top-1, per seed. Every difference is MutualNet minus the
other method, paired by seed, with its bootstrap interval and verdict (``stats``).
"""
from typing import Dict, List, Optional, Sequence

from mutualnet_video.budget import row_config

from .results import FACTORS
from .stats import best_within, by_seed, mean_std, paired_difference, tally, top1_at

GRID_METHODS = ("mutualnet", "mutualnet_wc", "mutualnet_wt", "mutualnet_labels", "sandwich")
COMPARED = ("sandwich", "mutualnet_wc", "mutualnet_wt", "mutualnet_labels")  # MutualNet minus each, per config and budget


def of(results: Sequence[Dict], method: str, config: Optional[str] = None) -> List[Dict]:
    """The results (one per seed) of ``method`` (and static ``config``)."""
    found = [r for r in results if r["method"] == method and r["config"] == config]
    if not found:
        raise KeyError(f"no results of {method}" + (f" at {config}" if config else ""))
    return found


def present(results: Sequence[Dict], methods: Sequence[str]) -> List[str]:
    """Those of ``methods`` that have results (the driver may run a subset, ``--methods``)."""
    return [m for m in methods if any(r["method"] == m for r in results)]


def grid_table(results: Sequence[Dict]) -> List[Dict]:
    """Per grid config, by GFLOPs: test top-1 of every grid method, and MutualNet minus each other one."""
    methods = {m: of(results, m) for m in present(results, GRID_METHODS)}
    table = []
    for row in sorted(methods["mutualnet"][0]["test"], key=lambda r: (r["gflops"], str(row_config(r)))):
        config = str(row_config(row))
        top1 = {m: by_seed(rs, lambda r: top1_at(r["test"], config)) for m, rs in methods.items()}
        table.append({"config": config, "gflops": row["gflops"], "params": row["params"],
                      "top1": {m: mean_std(v.values()) for m, v in top1.items()},
                      "diff": {m: paired_difference(top1["mutualnet"], top1[m]) for m in methods if m in COMPARED}})
    return table


def budget_table(results: Sequence[Dict]) -> List[Dict]:
    """At each GFLOPs level of the grid: every grid method's best config within it (chosen on val,
    per seed) and its test top-1, and MutualNet minus each other method."""
    methods = {m: of(results, m) for m in present(results, GRID_METHODS)}
    table = []
    for gflops in sorted({r["gflops"] for r in methods["mutualnet"][0]["test"]}):
        picks = {m: by_seed(rs, lambda r: best_within(r["val"], r["test"], gflops)) for m, rs in methods.items()}
        top1 = {m: {s: p["top1"] for s, p in v.items()} for m, v in picks.items()}
        table.append({"gflops": gflops, "top1": {m: mean_std(v.values()) for m, v in top1.items()},
                      "chosen": {m: {str(s): p["config"] for s, p in v.items()} for m, v in picks.items()},
                      "diff": {m: paired_difference(top1["mutualnet"], top1[m]) for m in methods if m in COMPARED}})
    return table


def static_table(results: Sequence[Dict], static_configs: Sequence[str]) -> List[Dict]:
    """Per static config: the static model vs MutualNet at that config and vs MutualNet's best config
    within the static model's GFLOPs (chosen on val)."""
    mutual = of(results, "mutualnet")
    table = []
    for config in static_configs:
        static = of(results, "static", config)
        row = static[0]["test"][0]
        mutual_row = next(r for r in mutual[0]["test"] if str(row_config(r)) == config)
        static_top1 = by_seed(static, lambda r: r["test"][0]["top1"])
        same = by_seed(mutual, lambda r: top1_at(r["test"], config))
        within = by_seed(mutual, lambda r: best_within(r["val"], r["test"], row["gflops"]))
        within_top1 = {s: p["top1"] for s, p in within.items()}
        table.append({"config": config, "gflops": row["gflops"], "params": row["params"],
                      "mutualnet_gflops": mutual_row["gflops"], "mutualnet_params": mutual_row["params"],
                      "static": mean_std(static_top1.values()), "mutualnet": mean_std(same.values()),
                      "mutualnet_within": mean_std(within_top1.values()),
                      "mutualnet_within_chosen": {str(s): p["config"] for s, p in within.items()},
                      "diff_same": paired_difference(same, static_top1),
                      "diff_within": paired_difference(within_top1, static_top1)})
    return table


def cost_table(results: Sequence[Dict]) -> List[Dict]:
    """Wall time, training time and training GFLOPs per run (mean over seeds), and of all static runs
    of a seed together."""
    keys = ("wall_s", "train_s", "train_gflops")
    seeds = sorted({r["seed"] for r in results})

    def row(name: str, groups: List[List[Dict]]) -> Dict:
        return {"run": name, **{k: mean_std(sum(r[k] for r in group) for group in groups) for k in keys}}

    names = list(dict.fromkeys(r["run"] for r in results))
    table = [row(name, [[r for r in results if r["run"] == name and r["seed"] == s] for s in seeds]) for name in names]
    statics = [n for n in names if n.startswith("static_")]
    if statics:
        table.append(row(f"static, all {len(statics)} together",
                         [[r for r in results if r["method"] == "static" and r["seed"] == s] for s in seeds]))
    return table


def _mean_curves(results: Sequence[Dict], history: str, value) -> Dict[str, List[Dict]]:
    """Per run name: ``value`` of each epoch's record in ``history``, mean and std over the seeds
    (the epochs every seed has)."""
    curves = {}
    for name in dict.fromkeys(r["run"] for r in results):
        histories = [r[history] for r in results if r["run"] == name]
        epochs = sorted(set.intersection(*({h["epoch"] for h in records} for records in histories)))
        curves[name] = [{"epoch": e, **mean_std(value(next(h for h in records if h["epoch"] == e))
                                                 for records in histories)} for e in epochs]
    return curves


def val_curves(results: Sequence[Dict]) -> Dict[str, List[Dict]]:
    """Per run name: the val top-1 of its full config (single view) per validated epoch, mean and std
    over the seeds."""
    return _mean_curves(results, "val_history", lambda h: h["top1"][0])


def train_curves(results: Sequence[Dict]) -> Dict[str, List[Dict]]:
    """Per run name: the full config's top-1 on the training clips per epoch, mean and std over the seeds."""
    return _mean_curves(results, "train_history", lambda h: h["top1"])


def fit_table(results: Sequence[Dict]) -> List[Dict]:
    """Per run name, at the last epoch: how well the largest config it trains fits the training clips
    (top-1, label loss) against its test top-1 (mean and std over seeds). A method behind on test
    with a lower training top-1 and a similar gap is underfit; with a larger gap it overfits."""
    table = []
    for name in dict.fromkeys(r["run"] for r in results):
        runs = [r for r in results if r["run"] == name]
        last = [r["train_history"][-1] for r in runs]
        largest = [max(r["test"], key=lambda row: row["gflops"]) for r in runs]
        table.append({"run": name, "config": str(row_config(largest[0])),
                      "train_top1": mean_std(h["top1"] for h in last),
                      "loss_full": mean_std(h["loss_full"] for h in last),
                      "test_top1": mean_std(row["top1"] for row in largest),
                      "gap": mean_std(h["top1"] - row["top1"] for h, row in zip(last, largest))})
    return table


def factor_table(results: Sequence[Dict]) -> List[Dict]:
    """Per run name, at its cheapest and its full config (a static run: its one config): test top-1
    and the % of test videos with the right object and with the right direction (``FACTORS``), mean
    and std over the seeds whose grid saved its predictions; where the errors are. [] when no run
    has them (e.g. grids evaluated before predictions were saved)."""
    table = []
    for name in dict.fromkeys(r["run"] for r in results):
        runs = [r for r in results if r["run"] == name and r.get("test_factors")]
        if not runs:
            continue
        ends = sorted({min(runs[0]["test"], key=lambda row: row["gflops"])["gflops"],
                       max(runs[0]["test"], key=lambda row: row["gflops"])["gflops"]})
        for gflops in ends:
            config = str(row_config(next(row for row in runs[0]["test"] if row["gflops"] == gflops)))
            kept = [r for r in runs if config in r["test_factors"]]
            if kept:
                table.append({"run": name, "config": config, "top1": mean_std(top1_at(r["test"], config) for r in kept),
                              **{f: mean_std(r["test_factors"][config][f] for r in kept) for f in FACTORS}})
    return table


def _comparisons(rows: Sequence[Dict], label_key, diff_key) -> List[Dict]:
    return [{"label": label_key(r), **diff_key(r)} for r in rows]


def claims(grid: Sequence[Dict], budgets: Sequence[Dict], static: Sequence[Dict]) -> List[Dict]:
    """Each claim whose methods ran: its comparisons (label, paired difference with interval and
    verdict) and the tally."""
    def budget_label(r):
        return f"<= {r['gflops']:.4g} GFLOPs"

    def versus(method: str):
        return lambda r: r["diff"][method]

    specs = [  # (id, the other method, name, rows, label, difference)
        ("static_same_config", "static", "(1a) MutualNet vs a static model trained alone, at the static model's config",
         static, lambda r: r["config"], lambda r: r["diff_same"]),
        ("static_within_budget", "static", "(1b) MutualNet's best config within the static model's GFLOPs (chosen "
         "on val) vs the static model", static, lambda r: r["config"], lambda r: r["diff_within"]),
        ("sandwich_same_config", "sandwich", "(2a) MutualNet vs width-only sandwich, per grid config",
         grid, lambda r: r["config"], versus("sandwich")),
        ("sandwich_within_budget", "sandwich", "(2b) MutualNet vs width-only sandwich, best config within each "
         "budget (chosen on val)", budgets, budget_label, versus("sandwich")),
        ("ablation_wc", "mutualnet_wc", "(ablation) full MutualNet vs width x crop only (frames fixed), best "
         "within each budget", budgets, budget_label, versus("mutualnet_wc")),
        ("ablation_wt", "mutualnet_wt", "(ablation) full MutualNet vs width x frames only (crop fixed), best "
         "within each budget", budgets, budget_label, versus("mutualnet_wt")),
        ("ablation_labels", "mutualnet_labels", "(ablation) full MutualNet vs the same sampling with every "
         "sub-network trained on the labels (no in-place distillation), per grid config", grid,
         lambda r: r["config"], versus("mutualnet_labels")),
    ]
    found = []
    for key, other, name, rows, label, diff in specs:
        if rows and (other == "static" or other in rows[0]["diff"]):
            comps = _comparisons(rows, label, diff)
            found.append({"id": key, "name": name, "comparisons": comps, "tally": tally(comps)})
    return found


def cost_ratios(cost: Sequence[Dict]) -> Optional[Dict]:
    """One MutualNet run's training GFLOPs, training time and wall time over all static runs together
    (None without static runs)."""
    by_run = {row["run"]: row for row in cost}
    if not any(name.startswith("static_") for name in by_run):
        return None
    static_total = cost[-1]
    return {k: by_run["mutualnet"][k]["mean"] / static_total[k]["mean"] for k in ("train_gflops", "train_s", "wall_s")}


def analyse(results: Sequence[Dict], static_configs: Sequence[str]) -> Dict:
    """Every table, the claims, the fit on the training data and the per-epoch curves (of the methods
    that ran)."""
    grid, budgets = grid_table(results), budget_table(results)
    static = static_table(results, static_configs) if present(results, ["static"]) else []
    cost = cost_table(results)
    return {"grid": grid, "budgets": budgets, "static": static, "cost": cost, "cost_ratios": cost_ratios(cost),
            "claims": claims(grid, budgets, static), "fit": fit_table(results), "factors": factor_table(results),
            "val_curves": val_curves(results),
            "train_curves": train_curves(results)}
