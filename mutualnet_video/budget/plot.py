"""Accuracy-vs-GFLOPs plots: each run's configs as points, its Pareto frontier as a line, and
other runs (e.g. separately trained static models) as labelled markers."""
from typing import Dict, List, Optional, Sequence

from .table import pareto_frontier, row_config

MARKERS = "s^DvP*X"


def plot_curves(
    curves: Dict[str, Sequence[Dict]],
    out_paths: Sequence[str],
    markers: Optional[Dict[str, Sequence[Dict]]] = None,
    title: str = "Top-1 accuracy vs. compute",
    annotate_frontier: bool = True,
) -> List[str]:
    """Draw ``curves`` (label -> rows: all points + frontier line) and ``markers`` (label -> rows
    drawn as single labelled markers) on one figure; save to each path (PNG, PDF, ...)."""
    # A bare Figure draws to files without pyplot: no backend is chosen or switched, and importing
    # the package does not load matplotlib.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0), dpi=120)
    ax = fig.subplots()
    for i, (label, rows) in enumerate(curves.items()):
        color = f"C{i}"
        ax.scatter([r["gflops"] for r in rows], [r["top1"] for r in rows], s=14, alpha=0.35, color=color)
        frontier = pareto_frontier(rows)
        ax.plot([r["gflops"] for r in frontier], [r["top1"] for r in frontier], "-o", color=color,
                markersize=5, linewidth=2, label=f"{label} (frontier of {len(rows)} configs)")
        if annotate_frontier:
            for r in frontier:
                ax.annotate(str(row_config(r)), (r["gflops"], r["top1"]), textcoords="offset points",
                            xytext=(4, -10), fontsize=6, color=color)
    for j, (label, rows) in enumerate((markers or {}).items()):
        ax.scatter([r["gflops"] for r in rows], [r["top1"] for r in rows], marker=MARKERS[j % len(MARKERS)],
                   s=60, color=f"C{len(curves) + j}", edgecolor="black", zorder=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("GFLOPs per view (log scale)")
    ax.set_ylabel("Top-1 accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    for path in out_paths:
        fig.savefig(path)
    return list(out_paths)
