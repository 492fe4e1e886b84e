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
writes the batch-1 times as ``latency_ms`` into OUTPUT_DIR/query_table.json (``BudgetTable.select(latency_ms=...)``
then picks among the measured configs). Two budgets served by one config export it once, listing both.
"""
import os

from mutualnet_video.config import load_config_from_args, parse_args
from mutualnet_video.export.job import export_checkpoint
from mutualnet_video.utils.checkpoint import get_last_checkpoint
from mutualnet_video.utils.logging import setup_logging


def _flags(parser) -> None:
    parser.add_argument("--measure-latency", action="store_true", help="time every exported config on this machine")


def main(argv=None) -> dict:
    args = parse_args(argv, description=__doc__, add_arguments=_flags)
    cfg = load_config_from_args(args)
    out_dir = cfg.EXPORT.OUTPUT_DIR or os.path.join(cfg.OUTPUT_DIR, "export")
    setup_logging(out_dir)
    checkpoint = cfg.TEST.CHECKPOINT_FILE_PATH or get_last_checkpoint(cfg.OUTPUT_DIR)
    if not checkpoint:
        raise SystemExit(f"no checkpoint to export: set TEST.CHECKPOINT_FILE_PATH or train into {cfg.OUTPUT_DIR}")
    manifest = export_checkpoint(cfg, checkpoint, out_dir, measure_latency=args.measure_latency)
    print(f"\nbundle: {out_dir}")
    print(f"{'config':<16} {'GFLOPs':>7} {'params':>9} {'top-1':>6} {'ms (b=1)':>9}  {'budgets':<12} "
          "max diff (static/ts/onnx)")
    for e in manifest["budgets"]:
        v = e["verification"]
        ms = f"{e['latency_ms']['batch_1']:.1f}" if e["latency_ms"] else "-"
        top1 = f"{e['top1']:.1f}" if e["top1"] is not None else "-"
        budgets = ",".join(f"{b:g}" for b in e["budget_gflops"]) or "-"
        print(f"{e['name']:<16} {e['gflops']:>7.3f} {e['params']:>9d} {top1:>6} {ms:>9}  {budgets:<12} "
              f"{v['static_vs_slimmable']:.1e} / {v.get('torchscript', float('nan')):.1e} / {v.get('onnx', float('nan')):.1e}")
    return manifest


if __name__ == "__main__":
    main()
