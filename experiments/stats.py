"""Statistics of the reproduction: paired differences over seeds with bootstrap confidence intervals,
and the "best config within a budget" chosen on val and reported on test.

Every comparison is paired by seed: for seed s, MutualNet's top-1 minus the other method's top-1 of
the run with the same seed. Over the seeds: the mean difference and a 95% percentile bootstrap
interval of that mean (seeds resampled with replacement, a fixed RNG seed, so the interval is
reproducible). Verdict: ``held`` when the whole interval is above 0, ``failed`` when it is below 0,
``undecided`` when it contains 0, or with fewer than ``MIN_SEEDS`` seeds. Below that the interval is
still given but it is not a 95% interval: with 3 seeds or fewer, a resample of only the smallest
difference is more likely than 2.5%, so the percentile interval is just [smallest, largest] and
"held" would only mean that every seed agrees (3 of 3 agree by chance with probability 1/4).
"""
import statistics
from typing import Dict, Iterable, List, Mapping, Sequence

import numpy as np

from mutualnet_video.budget import BudgetTable, row_config

RESAMPLES = 10_000
LEVEL = 0.95
BOOTSTRAP_SEED = 0
VERDICTS = ("held", "failed", "undecided")
MIN_SEEDS = 5  # issue #12's protocol: at least 5 seeds before a comparison gets a verdict


def mean_std(values: Iterable[float]) -> Dict:
    """Mean, sample standard deviation (0 for one value) and count."""
    values = list(values)
    if not values:
        raise ValueError("mean_std of no values")
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def bootstrap_ci(values: Sequence[float], resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = BOOTSTRAP_SEED) -> List[float]:
    """Percentile bootstrap interval ``[lo, hi]`` of the mean of ``values`` (resampled with
    replacement ``resamples`` times with a fixed RNG seed)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, got {values.size}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return [float(lo), float(hi)]


def verdict(ci: Sequence[float]) -> str:
    """held (interval above 0), failed (below 0) or undecided (contains 0)."""
    lo, hi = ci
    return "held" if lo > 0 else "failed" if hi < 0 else "undecided"


def paired_difference(mutual: Mapping[int, float], other: Mapping[int, float]) -> Dict:
    """``mutual - other`` per seed (both keyed by seed; the seeds must match): the per-seed
    differences, their mean, the bootstrap interval (from 2 seeds) and the verdict (from
    ``MIN_SEEDS`` seeds; ``undecided`` before)."""
    if set(mutual) != set(other):
        raise ValueError(f"paired comparison needs the same seeds, got {sorted(mutual)} and {sorted(other)}")
    seeds = sorted(mutual)
    diffs = [mutual[s] - other[s] for s in seeds]
    result = {"seeds": seeds, "per_seed": diffs, "mean": statistics.fmean(diffs), "n": len(diffs)}
    if len(diffs) < 2:
        return {**result, "ci": None, "verdict": "undecided"}
    ci = bootstrap_ci(diffs)
    return {**result, "ci": ci, "verdict": verdict(ci) if len(diffs) >= MIN_SEEDS else "undecided"}


def tally(differences: Iterable[Dict]) -> Dict[str, int]:
    """How many comparisons are held / failed / undecided."""
    counts = dict.fromkeys(VERDICTS, 0)
    for d in differences:
        counts[d["verdict"]] += 1
    return counts


# ------------------------------------------------------------------------------ per seed
def top1_at(curve: Sequence[Dict], config: str) -> float:
    """The top-1 of ``config`` in a curve (rows of curve.json)."""
    for row in curve:
        if str(row_config(row)) == config:
            return row["top1"]
    raise KeyError(f"{config} is not in the curve ({', '.join(str(row_config(r)) for r in curve)})")


def best_within(val_curve: Sequence[Dict], test_curve: Sequence[Dict], gflops: float) -> Dict:
    """The config with the best **val** top-1 among those within ``gflops`` (the query table's
    answer, chosen on val), and its **test** top-1."""
    chosen = str(row_config(BudgetTable(val_curve).select(gflops=gflops * (1 + 1e-9))))
    return {"config": chosen, "val_top1": top1_at(val_curve, chosen), "top1": top1_at(test_curve, chosen)}


def by_seed(results: Sequence[Dict], value) -> Dict[int, float]:
    """``{seed: value(result)}`` for one method's results (one per seed)."""
    seeds = [r["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"more than one result per seed: {seeds}")
    return {r["seed"]: value(r) for r in results}
