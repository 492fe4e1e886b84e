"""``BudgetTable``: configs with their cost and accuracy, and the one rule that picks a config for a budget.

A row is a dict. Its schema is ``ROW_KEYS``: the config (``width``, ``crop``, ``frames``), GFLOPs per
view and per video, active ``params``, ``top1`` / ``top5`` (%, None where not measured),
``num_videos``, ``bn_batches``, the ``test_crop`` it was tested at, the test-time ``views`` per
video, the ``checkpoint`` it was measured on and, once an export timed it, ``latency_ms`` (batch 1).
The grid writes the curve (``curve.json`` / ``curve.csv``) and its Pareto frontier, the query table
(``query_table.json``); ``Bundle.select``, ``SlimmableRuntime`` and ``tools/export_net.py`` all
choose with :meth:`BudgetTable.select`.
"""
from typing import Dict, Iterator, List, Optional, Sequence

import simplejson

from ..config.subnet import SubnetConfig
from ..utils.atomic import write_json, write_lines

CURVE_JSON, CURVE_CSV, QUERY_TABLE = "curve.json", "curve.csv", "query_table.json"

CURVE_KEYS = ("width", "crop", "frames", "gflops", "gflops_per_video", "params", "top1", "top5",
              "num_videos", "bn_batches")
ROW_KEYS = CURVE_KEYS + ("test_crop", "views", "checkpoint", "latency_ms")


class BudgetError(ValueError):
    """No config fits the requested budget."""


def row_config(row: Dict) -> SubnetConfig:
    return SubnetConfig(row["width"], row["crop"], row["frames"])


def curve_row(sub: SubnetConfig, stats: Dict, result: Dict, *, views: int, bn_batches: int, test_crop: int,
              checkpoint: Optional[str]) -> Dict:
    """The curve row of ``sub``: ``stats`` from ``model_stats``, ``result`` from ``multiview_test``."""
    return {**sub.to_dict(), "gflops": stats["gflops"], "gflops_per_video": stats["gflops"] * views,
            "params": stats["params"], "top1": result["top1"], "top5": result["top5"],
            "num_videos": result["num_videos"], "bn_batches": bn_batches, "test_crop": test_crop, "views": views,
            "checkpoint": checkpoint}


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


def _rank(row: Dict):
    """Higher is better: measured accuracy first, the cheaper of equals; a row without ``top1`` (a
    grid not evaluated yet) ranks below every measured one, by GFLOPs (more compute, more accuracy)."""
    if row.get("top1") is None:
        return (0, row["gflops"])
    return (1, row["top1"], -row["gflops"])


class BudgetTable:
    """Rows of configs (see the module doc) and the budget rule. ``BudgetTable.load(path)``,
    ``table.select(gflops=1.0)``, ``table.frontier()``, ``table.save(json_path, csv_path)``."""

    def __init__(self, rows: Sequence[Dict] = ()):
        self.rows: List[Dict] = [dict(r) for r in rows]

    def __iter__(self) -> Iterator[Dict]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, gflops: Optional[float] = None, latency_ms: Optional[float] = None) -> Dict:
        """The row that serves a budget (GFLOPs per view and/or batch-1 latency in ms): the most
        accurate row within it; among equally accurate rows the cheapest; rows without ``top1`` rank
        below measured ones, the costliest first. A latency budget considers the rows with a measured
        ``latency_ms`` (``tools/export_net.py --measure-latency`` adds them).

        Raises ``BudgetError`` when nothing fits (naming the cheapest option), ``ValueError`` when no
        budget is given or a latency budget is asked of rows without latencies.
        """
        if gflops is None and latency_ms is None:
            raise ValueError("select needs a budget: gflops=... and/or latency_ms=...")
        rows = self.rows
        if not rows:
            raise BudgetError("the budget table is empty")
        if latency_ms is not None:
            rows = [r for r in rows if r.get("latency_ms") is not None]
            if not rows:
                raise ValueError("no config has a measured latency_ms: measure it with "
                                 "tools/export_net.py --measure-latency")
        fits = [r for r in rows
                if (gflops is None or r["gflops"] <= gflops) and (latency_ms is None or r["latency_ms"] <= latency_ms)]
        if not fits:
            cheapest = min(rows, key=lambda r: r["latency_ms"] if latency_ms is not None else r["gflops"])
            raise BudgetError(
                f"no config fits gflops<={gflops} latency_ms<={latency_ms}; the cheapest is {row_config(cheapest)} "
                f"at {cheapest['gflops']:.3f} GFLOPs"
                + (f", {cheapest['latency_ms']:.1f} ms" if cheapest.get("latency_ms") is not None else "")
            )
        return max(fits, key=_rank)

    def frontier(self) -> "BudgetTable":
        """The Pareto frontier (the query table): see :func:`pareto_frontier`."""
        return BudgetTable(pareto_frontier(self.rows))

    def with_latencies(self, latencies: Dict[str, float]) -> "BudgetTable":
        """A copy with ``latency_ms`` set for the configs named in ``latencies`` (``{"w0.50-c160-t8": ms}``);
        other rows keep what they had."""
        return BudgetTable(dict(r, latency_ms=latencies[str(row_config(r))]) if str(row_config(r)) in latencies
                           else r for r in self.rows)

    def save(self, json_path: str, csv_path: Optional[str] = None) -> None:
        """The rows as a json list (and a csv: ``CURVE_KEYS``, then the other ``ROW_KEYS`` present, then any others), each file written atomically: a run
        killed mid-write leaves the previous complete file, which a resumed grid reads back."""
        write_json(json_path, self.rows)
        if csv_path:
            present = {k for r in self.rows for k in r}
            keys = list(CURVE_KEYS) + [k for k in ROW_KEYS[len(CURVE_KEYS):] if k in present]
            keys += sorted(present - set(ROW_KEYS))
            write_lines(csv_path, [",".join(keys)] + [",".join("" if r.get(k) is None else str(r[k]) for k in keys)
                                                      for r in self.rows])

    @classmethod
    def load(cls, json_path: str) -> "BudgetTable":
        with open(json_path) as f:
            return cls(simplejson.load(f))

