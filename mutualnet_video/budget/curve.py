"""Accuracy-vs-GFLOPs curves: rows per config, the Pareto frontier, and the budget query.

A row is a dict with at least ``width``, ``crop``, ``frames``, ``gflops``, ``top1``; the curve files
add ``gflops_per_video``, ``params``, ``top5``, ``num_videos``, ``bn_batches`` (and ``latency_ms``
once an export measured it).
"""
from typing import Dict, List, Optional, Sequence

import simplejson

from ..config.subnet import SubnetConfig
from ..utils.atomic import write_json, write_lines

CURVE_KEYS = ("width", "crop", "frames", "gflops", "gflops_per_video", "params", "top1", "top5",
              "num_videos", "bn_batches")


def row_config(row: Dict) -> SubnetConfig:
    return SubnetConfig(row["width"], row["crop"], row["frames"])


def pareto_frontier(rows: Sequence[Dict], cost: str = "gflops", score: str = "top1") -> List[Dict]:
    """The configs no other config beats: for each cost level, the most accurate config within it.

    Sorted by ascending cost; scores strictly increase along it (a dominated or equal-scoring
    costlier config never appears).
    """
    frontier: List[Dict] = []
    for row in sorted(rows, key=lambda r: (r[cost], -r[score])):
        if not frontier or row[score] > frontier[-1][score]:
            frontier.append(row)
    return frontier


class BudgetError(ValueError):
    """No config fits the requested budget."""


def query(table: Sequence[Dict], gflops: Optional[float] = None, latency_ms: Optional[float] = None) -> Dict:
    """The most accurate row of ``table`` within the budget (GFLOPs per view and/or latency in ms).

    A latency budget considers the rows with a measured ``latency_ms`` (see :func:`with_latencies`;
    ``tools/export_net.py --measure-latency`` adds them for the configs it exports).
    Raises ``BudgetError`` when nothing fits, naming the cheapest option, and ``ValueError`` when a
    latency budget is asked of a table without latencies.
    """
    if gflops is None and latency_ms is None:
        raise ValueError("query needs a budget: gflops=... and/or latency_ms=...")
    if not table:
        raise BudgetError("the query table is empty")
    if latency_ms is not None:
        table = [r for r in table if r.get("latency_ms") is not None]
        if not table:
            raise ValueError("the query table has no latency_ms: measure it with "
                             "tools/export_net.py --measure-latency")
    fits = [r for r in table
            if (gflops is None or r["gflops"] <= gflops) and (latency_ms is None or r["latency_ms"] <= latency_ms)]
    if not fits:
        cheapest = min(table, key=lambda r: r["latency_ms"] if latency_ms is not None else r["gflops"])
        raise BudgetError(
            f"no config fits gflops<={gflops} latency_ms<={latency_ms}; the cheapest is {row_config(cheapest)} "
            f"at {cheapest['gflops']:.3f} GFLOPs" + (f", {cheapest['latency_ms']:.1f} ms" if "latency_ms" in cheapest else "")
        )
    return max(fits, key=lambda r: (r["top1"], -r["gflops"]))


def with_latencies(table: Sequence[Dict], latencies: Dict[str, float]) -> List[Dict]:
    """Copies of ``table``'s rows, with ``latency_ms`` set for the configs named in ``latencies``
    (``{"w0.50-c160-t8": ms}``); other rows keep what they had."""
    rows = []
    for r in table:
        name = str(row_config(r))
        rows.append(dict(r, latency_ms=latencies[name]) if name in latencies else dict(r))
    return rows


def save_rows(rows: Sequence[Dict], json_path: str, csv_path: Optional[str] = None) -> None:
    """Write rows as a json list (and a csv with ``CURVE_KEYS`` first), each file atomically: a run
    killed mid-write leaves the previous complete file, which a resumed grid reads back."""
    write_json(json_path, list(rows))
    if csv_path:
        keys = list(CURVE_KEYS) + sorted({k for r in rows for k in r} - set(CURVE_KEYS))
        write_lines(csv_path, [",".join(keys)] + [",".join("" if r.get(k) is None else str(r[k]) for k in keys)
                                                  for r in rows])


def load_rows(json_path: str) -> List[Dict]:
    with open(json_path) as f:
        return simplejson.load(f)
