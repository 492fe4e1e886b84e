#!/usr/bin/env python3
"""Export a trained slimmable model as a multi-budget bundle.

    python tools/export_net.py --cfg configs/Kinetics/X3D_M.yaml \\
        --opts TEST.CHECKPOINT_FILE_PATH ckpt.pyth EXPORT.BUDGETS "[0.5, 1.0, 2.0]" EXPORT.OUTPUT_DIR out/

Which configs: with EXPORT.BUDGETS (GFLOPs per view), the best config within each budget, from
OUTPUT_DIR/query_table.json when the grid was evaluated (else the largest grid config that fits);
without budgets, every config of the query table, else the smallest, a middle and the full config.
Configs without calibrated BN statistics are calibrated first (BN.NUM_BATCHES_PRECISE training
batches). Each config is written as .pyth, TorchScript and ONNX, each verified; ``--measure-latency``
also times them on this machine (batch 1 and EXPORT.LATENCY_BATCH_SIZE) into the manifest, and
writes the batch-1 times as ``latency_ms`` into OUTPUT_DIR/query_table.json (``budget.query(table,
latency_ms=...)`` then picks among the measured configs).
"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mutualnet_video.budget import BudgetError, load_rows, model_stats, query, save_rows, with_latencies  # noqa: E402
from mutualnet_video.budget.curve import row_config  # noqa: E402
from mutualnet_video.config import load_config_from_args, parse_args  # noqa: E402
from mutualnet_video.engine.grid import QUERY_TABLE, BankStore, calibration_batches, eval_grid  # noqa: E402
from mutualnet_video.export import export_bundle  # noqa: E402
from mutualnet_video.export.bundle import measured_latencies  # noqa: E402
from mutualnet_video.models import build_model  # noqa: E402
from mutualnet_video.utils.checkpoint import get_last_checkpoint, load_checkpoint  # noqa: E402
from mutualnet_video.utils.logging import setup_logging  # noqa: E402

logger = logging.getLogger("export_net")


def _flags(parser) -> None:
    parser.add_argument("--measure-latency", action="store_true", help="time every exported config on this machine")


def _grid_rows(cfg, model):
    """Rows (config + GFLOPs, no accuracy) for the evaluation grid, by ascending GFLOPs."""
    rows = [dict(sub.to_dict(), gflops=model_stats(model, cfg, sub.width, sub.frames, sub.crop)["gflops"])
            for sub in eval_grid(cfg)]
    return sorted(rows, key=lambda r: r["gflops"])


def choose_rows(cfg, model, table):
    """The configs to export (rows with width/crop/frames/gflops, top1 when known) and their budgets."""
    budgets = [float(b) for b in cfg.EXPORT.BUDGETS]
    if budgets:
        if table:
            rows = [query(table, gflops=b) for b in budgets]
        else:
            grid = _grid_rows(cfg, model)
            rows = []
            for b in budgets:
                fits = [r for r in grid if r["gflops"] <= b]
                if not fits:
                    raise BudgetError(f"no config fits {b} GFLOPs; the cheapest is {row_config(grid[0])} "
                                      f"at {grid[0]['gflops']:.3f}")
                rows.append(fits[-1])
        return rows, budgets
    if table:
        return list(table), []
    grid = _grid_rows(cfg, model)
    return [grid[0], grid[len(grid) // 2], grid[-1]], []


def main(argv=None) -> dict:
    args = parse_args(argv, description=__doc__, add_arguments=_flags)
    cfg = load_config_from_args(args)
    out_dir = cfg.EXPORT.OUTPUT_DIR or os.path.join(cfg.OUTPUT_DIR, "export")
    setup_logging(out_dir)
    checkpoint = cfg.TEST.CHECKPOINT_FILE_PATH or get_last_checkpoint(cfg.OUTPUT_DIR)
    if not checkpoint:
        raise SystemExit(f"no checkpoint to export: set TEST.CHECKPOINT_FILE_PATH or train into {cfg.OUTPUT_DIR}")
    model = build_model(cfg)
    load_checkpoint(checkpoint, model)
    table_path = os.path.join(cfg.OUTPUT_DIR, QUERY_TABLE)
    table = load_rows(table_path) if os.path.isfile(table_path) else None
    rows, budgets = choose_rows(cfg, model, table)
    unique = list({str(row_config(r)): r for r in rows}.values())
    store = BankStore(cfg, checkpoint)
    bank = store.load()
    for sub in map(row_config, unique):
        if bank.calibrate(model, calibration_batches(cfg, sub, "cpu"), sub, cfg.BN.NUM_BATCHES_PRECISE):
            logger.info("calibrated BN statistics of %s on %d batches", sub, cfg.BN.NUM_BATCHES_PRECISE)
            store.save(bank)
    manifest = export_bundle(model, cfg, bank, unique, out_dir, source_checkpoint=checkpoint,
                             formats=cfg.EXPORT.FORMATS, query_table=table or unique, measure_latency=args.measure_latency,
                             budgets=budgets if len(unique) == len(rows) else ())
    if table and args.measure_latency:  # latency budgets for budget.query on this machine's timings
        save_rows(with_latencies(table, measured_latencies(manifest["budgets"])), table_path)
        logger.info("wrote the measured latencies (batch 1, ms) into %s", table_path)
    print(f"\nbundle: {out_dir}")
    print(f"{'config':<16} {'GFLOPs':>7} {'params':>9} {'top-1':>6} {'ms (b=1)':>9}  max diff (static/ts/onnx)")
    for e in manifest["budgets"]:
        v = e["verification"]
        ms = f"{e['latency_ms']['batch_1']:.1f}" if e["latency_ms"] else "-"
        top1 = f"{e['top1']:.1f}" if e["top1"] is not None else "-"
        print(f"{e['name']:<16} {e['gflops']:>7.3f} {e['params']:>9d} {top1:>6} {ms:>9}  "
              f"{v['static_vs_slimmable']:.1e} / {v.get('torchscript', float('nan')):.1e} / {v.get('onnx', float('nan')):.1e}")
    return manifest


if __name__ == "__main__":
    main()
