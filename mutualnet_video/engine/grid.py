"""Evaluating a slimmable model over its grid of configs: BN re-calibration (the checkpoint's
``BankStore``), multi-view testing, one curve row per config, the query table (the Pareto frontier)
and the plot.

Written to ``OUTPUT_DIR`` as each config finishes, so an interrupted grid resumes where it stopped:
``curve.json`` / ``curve.csv`` (one row per config), ``query_table.json`` (the frontier),
``curve.png``, ``predictions.json`` (every config's top-1 class per video, and the labels: what an
error analysis needs), and the BN bank inside the evaluated checkpoint (key ``bn_bank``; or
``OUTPUT_DIR/bn_bank.pyth`` when the checkpoint lives elsewhere).
"""
import json
import logging
import os
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..budget.calibrate import BankStore, bank_batches
from ..budget.flops import model_stats
from ..budget.plot import plot_curves
from ..budget.space import SubnetSpace
from ..budget.table import CURVE_CSV, CURVE_JSON, QUERY_TABLE, BudgetTable, curve_row, row_config
from ..config import SubnetConfig
from ..data import build_dataset, build_loader
from ..slim import width as at_width
from ..utils import distributed as du
from ..utils.atomic import write_json
from ..utils.checkpoint import atomic_save
from .multiview import multiview_test

logger = logging.getLogger(__name__)

CURVE_PNG = "curve.png"
PREDICTIONS_JSON = "predictions.json"


def _views(cfg: CfgNode) -> int:
    return cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS


def row_is_current(row: Dict, cfg: CfgNode) -> bool:
    """A curve row measured as ``cfg``'s grid measures: BN statistics from at least as many batches,
    and as many test-time views per video (a row without ``views`` predates them: stale)."""
    return row.get("bn_batches", 0) >= bank_batches(cfg) and row.get("views") == _views(cfg)


def _finished_rows(path: str, cfg: CfgNode, checkpoint: Optional[str]) -> Dict[str, Dict]:
    """Rows of an earlier (interrupted) grid evaluation of the same checkpoint that ``cfg``'s grid
    can keep (``row_is_current``), by config name."""
    if not os.path.isfile(path):
        return {}
    return {str(row_config(r)): r for r in BudgetTable.load(path)
            if r.get("checkpoint") == checkpoint and row_is_current(r, cfg)}


def read_predictions(output_dir: str, checkpoint: Optional[str] = None) -> Dict:
    """``OUTPUT_DIR/predictions.json``: ``{"checkpoint", "labels": [V], "top1": {config: [V]}}``, the
    top-1 class of every video (-1: a video no view reached) per config. A new, empty record when
    the file is missing or holds another ``checkpoint``'s (unless ``checkpoint`` is None)."""
    path = os.path.join(output_dir, PREDICTIONS_JSON)
    if os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
        if checkpoint is None or saved["checkpoint"] == checkpoint:
            return saved
    return {"checkpoint": checkpoint, "labels": [], "top1": {}}


def evaluate_grid(cfg: CfgNode, model: nn.Module, checkpoint: Optional[str],
                  configs: Optional[Sequence[SubnetConfig]] = None,
                  extra_markers: Optional[Dict[str, List[Dict]]] = None) -> List[Dict]:
    """Calibrate and test every config of the grid; write the curve files; return the rows.

    Configs already in ``OUTPUT_DIR/curve.json`` for the same ``checkpoint`` (and as many BN
    calibration batches and test views, ``row_is_current``) are not redone, and configs already in
    the BN bank are not re-calibrated.
    """
    device = du.get_device(cfg)
    model = du.unwrap(model).to(device)
    space = SubnetSpace(cfg)
    configs = list(configs or space.eval_grid())
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    curve_path = os.path.join(cfg.OUTPUT_DIR, CURVE_JSON)
    done = _finished_rows(curve_path, cfg, checkpoint)
    store = BankStore(cfg, checkpoint)
    predictions = read_predictions(cfg.OUTPUT_DIR, checkpoint)
    num_videos = build_dataset(cfg, "test").num_videos
    amp = cfg.TRAIN.MIXED_PRECISION and device.type == "cuda"
    logger.info("evaluating %d configs x %d views on %d test videos (%d already done)",
                len(configs), _views(cfg), num_videos, sum(str(c) in done for c in configs))
    for i, sub in enumerate(configs, 1):
        if str(sub) in done:
            continue
        start = time.time()
        store.prepare(model, sub, device)
        eval_sub = space.test_config(sub)
        with at_width(model, sub.width):
            result = multiview_test(model, build_loader(cfg, "test", sub=eval_sub), num_videos, device,
                                    head_act=cfg.MODEL.HEAD_ACT, method=cfg.DATA.ENSEMBLE_METHOD, amp=amp)
        if i == 1 and cfg.TEST.SAVE_RESULTS_PATH and du.is_master_proc():
            _save_results(cfg, sub, result)
        stats = model_stats(model, cfg, width=sub.width, frames=sub.frames, crop=sub.crop)
        row = curve_row(sub, stats, result, views=_views(cfg), bn_batches=store.bank.num_batches(sub),
                        test_crop=eval_sub.crop, checkpoint=checkpoint)
        done[str(sub)] = row
        seen = result["views"] > 0
        predictions["labels"] = torch.where(seen, result["video_labels"], -1).tolist()  # (V,)
        predictions["top1"][str(sub)] = torch.where(seen, result["video_scores"].argmax(1), -1).tolist()  # (V,)
        if du.is_master_proc():
            BudgetTable(done.values()).save(curve_path, os.path.join(cfg.OUTPUT_DIR, CURVE_CSV))
            write_json(os.path.join(cfg.OUTPUT_DIR, PREDICTIONS_JSON), predictions)
        logger.info("[%d/%d] %s: top-1 %.2f%% top-5 %.2f%% at %.3f GFLOPs/view (%.0f s)", i, len(configs), sub,
                    row["top1"], row["top5"], row["gflops"], time.time() - start)
    rows = [done[str(c)] for c in configs]
    if du.is_master_proc():
        write_curve_outputs(cfg.OUTPUT_DIR, rows, extra_markers)
    return rows


def _save_results(cfg: CfgNode, sub: SubnetConfig, result: Dict) -> None:
    """TEST.SAVE_RESULTS_PATH (relative to OUTPUT_DIR): per-video scores and labels of the full config."""
    path = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH)
    atomic_save({"config": str(sub), "video_scores": result["video_scores"], "video_labels": result["video_labels"],
                 "views": result["views"]}, path)
    logger.info("saved per-video scores of %s to %s", sub, path)


def write_curve_outputs(output_dir: str, rows: Sequence[Dict],
                        extra_markers: Optional[Dict[str, List[Dict]]] = None) -> None:
    """``query_table.json`` (the Pareto frontier) and ``curve.png`` for ``rows``."""
    frontier = BudgetTable(rows).frontier()
    frontier.save(os.path.join(output_dir, QUERY_TABLE))
    plot_curves({"MutualNet": rows}, [os.path.join(output_dir, CURVE_PNG)], markers=extra_markers)
    logger.info("query table (%d configs on the frontier of %d): %s", len(frontier), len(rows),
                ", ".join(f"{row_config(r)} {r['top1']:.1f}%@{r['gflops']:.3f}" for r in frontier))
