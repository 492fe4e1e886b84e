"""Evaluating a slimmable model over its grid of configs: BN re-calibration, multi-view testing,
the accuracy-vs-GFLOPs curve, its Pareto frontier (the query table) and the plot.

Written to ``OUTPUT_DIR`` as each config finishes, so an interrupted grid resumes where it stopped:
``curve.json`` / ``curve.csv`` (one row per config), ``query_table.json`` (the frontier),
``curve.png``, and the BN bank inside the evaluated checkpoint (key ``bn_bank``; or
``OUTPUT_DIR/bn_bank.pyth`` when the checkpoint lives elsewhere).
"""
import itertools
import logging
import os
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..budget.calibrate import BNBank
from ..budget.curve import load_rows, pareto_frontier, row_config, save_rows
from ..budget.flops import model_stats
from ..budget.plot import plot_curves
from ..config import SubnetConfig
from ..data import build_dataset, build_loader
from ..slim import width as at_width
from ..utils import distributed as du
from ..models import build_model
from ..utils.checkpoint import atomic_save, get_last_checkpoint, load_checkpoint, read_entry, update_checkpoint
from ..utils.logging import StatsLog
from .batch import to_device
from .multiview import multiview_test
from .sampler import crop_sizes, frame_counts

logger = logging.getLogger(__name__)

CURVE_JSON, CURVE_CSV, QUERY_TABLE, CURVE_PNG, BANK_FILE = (
    "curve.json", "curve.csv", "query_table.json", "curve.png", "bn_bank.pyth")


def eval_grid(cfg: CfgNode) -> List[SubnetConfig]:
    """``MUTUALNET.EVAL_GRID`` widths x crops x frames, largest first. Empty lists default to the
    training ranges: 4 widths evenly over WIDTH_RANGE, the training crops and frame counts. A
    static model (MODE static) has its one config."""
    lo, hi = cfg.MUTUALNET.WIDTH_RANGE
    grid = cfg.MUTUALNET.EVAL_GRID
    if cfg.MUTUALNET.MODE == "static" and not (grid.WIDTHS or grid.CROPS or grid.FRAMES):
        return [SubnetConfig(hi, crop_sizes(cfg)[0], frame_counts(cfg)[0])]
    widths = grid.WIDTHS or sorted({round(lo + (hi - lo) * i / 3, 4) for i in range(4)})
    crops = grid.CROPS or crop_sizes(cfg)
    frames = grid.FRAMES or frame_counts(cfg)
    return sorted((SubnetConfig(w, c, t) for w, c, t in itertools.product(widths, crops, frames)), reverse=True)


def test_crop(cfg: CfgNode, sub: SubnetConfig) -> int:
    """The spatial size a config is tested at: its crop scaled like TEST_CROP_SIZE / TRAIN_CROP_SIZE
    (PySlowFast trains at 224 and tests at 256; GFLOPs are reported at the training crop)."""
    return round(sub.crop * cfg.DATA.TEST_CROP_SIZE / cfg.DATA.TRAIN_CROP_SIZE)


def _views(cfg: CfgNode) -> int:
    return cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS


class BankStore:
    """Where the BN bank of an evaluated checkpoint is kept: inside the checkpoint when it is one of
    this run's (under OUTPUT_DIR), else in ``OUTPUT_DIR/bn_bank.pyth`` tagged with its path."""

    def __init__(self, cfg: CfgNode, checkpoint: Optional[str]):
        self.checkpoint = checkpoint
        inside = checkpoint and os.path.abspath(checkpoint).startswith(os.path.abspath(cfg.OUTPUT_DIR) + os.sep)
        self.path = checkpoint if inside else os.path.join(cfg.OUTPUT_DIR, BANK_FILE)
        self.inside = bool(inside)

    def load(self) -> BNBank:
        if not self.path or not os.path.isfile(self.path):
            return BNBank()
        if not self.inside and read_entry(self.path, "checkpoint") != self.checkpoint:
            return BNBank()  # calibrated for other weights
        return BNBank.from_state_dict(read_entry(self.path, "bn_bank"))

    def save(self, bank: BNBank) -> None:
        if not du.is_master_proc():
            return
        if self.inside:
            update_checkpoint(self.path, bn_bank=bank.state_dict())
        else:
            atomic_save({"checkpoint": self.checkpoint, "bn_bank": bank.state_dict()}, self.path)


def calibration_batches(cfg: CfgNode, sub: SubnetConfig, device: torch.device):
    """Training clips at ``sub``'s frames and crop, on ``device``."""
    for inputs, *_ in build_loader(cfg, "train", sub=sub):
        yield to_device(inputs, device)


def bn_calibrator(cfg: CfgNode, device: torch.device):
    """``calibrate(model, sub)``: re-calibrate BN statistics of ``sub`` on BN.NUM_BATCHES_PRECISE
    training batches (averaged over ranks), as the trainer's validation uses it."""
    def calibrate(model: nn.Module, sub: SubnetConfig) -> None:
        BNBank().calibrate(model, calibration_batches(cfg, sub, device), sub, cfg.BN.NUM_BATCHES_PRECISE,
                           reduce=rank_mean)

    return calibrate


def rank_mean(stats):
    """Each rank calibrated on its own shard: average the statistics over ranks."""
    return {name: {k: du.all_reduce_mean(v) for k, v in s.items()} for name, s in stats.items()}


def _finished_rows(path: str, checkpoint: Optional[str]) -> Dict[str, Dict]:
    """Rows of an earlier (interrupted) grid evaluation of the same checkpoint, by config name."""
    if not os.path.isfile(path):
        return {}
    return {str(row_config(r)): r for r in load_rows(path) if r.get("checkpoint") == checkpoint}


def evaluate_grid(cfg: CfgNode, model: nn.Module, checkpoint: Optional[str],
                  configs: Optional[Sequence[SubnetConfig]] = None,
                  extra_markers: Optional[Dict[str, List[Dict]]] = None) -> List[Dict]:
    """Calibrate and test every config of the grid; write the curve files; return the rows.

    Configs already in ``OUTPUT_DIR/curve.json`` for the same ``checkpoint`` are not redone, and
    configs already in the BN bank are not re-calibrated.
    """
    device = du.get_device(cfg)
    model = du.unwrap(model).to(device)
    configs = list(configs or eval_grid(cfg))
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    curve_path = os.path.join(cfg.OUTPUT_DIR, CURVE_JSON)
    done = _finished_rows(curve_path, checkpoint)
    store = BankStore(cfg, checkpoint)
    bank = store.load()
    num_videos = build_dataset(cfg, "test").num_videos
    amp = cfg.TRAIN.MIXED_PRECISION and device.type == "cuda"
    logger.info("evaluating %d configs x %d views on %d test videos (%d already done)",
                len(configs), _views(cfg), num_videos, sum(str(c) in done for c in configs))
    for i, sub in enumerate(configs, 1):
        if str(sub) in done:
            continue
        start = time.time()
        if bank.calibrate(model, calibration_batches(cfg, sub, device), sub, cfg.BN.NUM_BATCHES_PRECISE,
                          reduce=rank_mean):
            store.save(bank)
        eval_sub = SubnetConfig(sub.width, test_crop(cfg, sub), sub.frames)
        with at_width(model, sub.width):
            result = multiview_test(model, build_loader(cfg, "test", sub=eval_sub), num_videos, device,
                                    head_act=cfg.MODEL.HEAD_ACT, method=cfg.DATA.ENSEMBLE_METHOD, amp=amp)
        if i == 1 and cfg.TEST.SAVE_RESULTS_PATH and du.is_master_proc():
            _save_results(cfg, sub, result)
        stats = model_stats(model, cfg, width=sub.width, frames=sub.frames, crop=sub.crop)
        row = {**sub.to_dict(), "gflops": stats["gflops"], "gflops_per_video": stats["gflops"] * _views(cfg),
               "params": stats["params"], "top1": result["top1"], "top5": result["top5"],
               "num_videos": result["num_videos"], "bn_batches": bank.num_batches(sub),
               "test_crop": eval_sub.crop, "checkpoint": checkpoint}
        done[str(sub)] = row
        if du.is_master_proc():
            save_rows(list(done.values()), curve_path, os.path.join(cfg.OUTPUT_DIR, CURVE_CSV))
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


def test(cfg: CfgNode) -> List[Dict]:
    """The final evaluation of a run (TEST.ENABLE): the grid of configs with BN re-calibration and
    multi-view testing, on the weights of TEST.CHECKPOINT_FILE_PATH, else the last checkpoint in
    OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH (PySlowFast's order)."""
    checkpoint = cfg.TEST.CHECKPOINT_FILE_PATH or get_last_checkpoint(cfg.OUTPUT_DIR) or cfg.TRAIN.CHECKPOINT_FILE_PATH
    model = build_model(cfg)
    if checkpoint:
        load_checkpoint(checkpoint, model)
    else:
        logger.warning("testing a randomly initialised model (no checkpoint found): for debugging only")
    rows = evaluate_grid(cfg, model, checkpoint or None)
    stats = StatsLog(cfg)
    for row in rows:
        stats.write({"_type": "test", **{k: v for k, v in row.items() if k != "checkpoint"},
                     "config": str(row_config(row))}, step=0)
    stats.close()
    return rows


def write_curve_outputs(output_dir: str, rows: Sequence[Dict],
                        extra_markers: Optional[Dict[str, List[Dict]]] = None) -> None:
    """``query_table.json`` (the Pareto frontier) and ``curve.png`` for ``rows``."""
    frontier = pareto_frontier(rows)
    save_rows(frontier, os.path.join(output_dir, QUERY_TABLE))
    plot_curves({"MutualNet": rows}, [os.path.join(output_dir, CURVE_PNG)], markers=extra_markers)
    logger.info("query table (%d configs on the frontier of %d): %s", len(frontier), len(rows),
                ", ".join(f"{row_config(r)} {r['top1']:.1f}%@{r['gflops']:.3f}" for r in frontier))
