#!/usr/bin/env python3
"""Draw several accuracy-vs-GFLOPs curves (``curve.json`` files) on one figure, PNG and PDF.

    python tools/plot_curves.py out/mutualnet/curve.json:MutualNet out/sandwich/curve.json:US-Nets \\
        --marker out/static_w050/curve.json:"static X3D w0.50" --out docs/curves

Each ``PATH[:LABEL]`` after the command is a run drawn as points plus its Pareto frontier;
``--marker PATH[:LABEL]`` adds a run drawn as labelled markers (e.g. separately trained static
models). The label defaults to the run's folder name.
"""
import argparse
import os

from mutualnet_video.budget import BudgetTable
from mutualnet_video.budget.plot import plot_curves


def _runs(specs):
    runs = {}
    for spec in specs:
        path, _, label = spec.partition(":")
        if not os.path.isfile(path):
            raise SystemExit(f"no such curve file: {path}")
        runs[label or os.path.basename(os.path.dirname(os.path.abspath(path)))] = BudgetTable.load(path).rows
    return runs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", nargs="+", help="curve.json[:label] drawn as points + frontier")
    parser.add_argument("--marker", action="append", default=[], help="curve.json[:label] drawn as markers")
    parser.add_argument("--out", default="curves", help="output path without extension (writes .png and .pdf)")
    parser.add_argument("--title", default="Top-1 accuracy vs. compute")
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    for path in plot_curves(_runs(args.curves), [args.out + ".png", args.out + ".pdf"],
                            markers=_runs(args.marker), title=args.title):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
