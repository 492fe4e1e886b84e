"""Exporting a trained run: which configs serve the budgets, their BN statistics, the bundle, and the
measured latencies written back into the run's query table (``tools/export_net.py`` calls
``export_checkpoint``)."""
import logging
import os
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..budget.calibrate import BankStore, bank_batches
from ..budget.flops import model_stats
from ..budget.space import SubnetSpace
from ..budget.table import QUERY_TABLE, BudgetTable, row_config
from ..models import build_model
from ..models.loading import load_checkpoint
from .bundle import export_bundle, measured_latencies
from .latency import busy_cpu_warning

logger = logging.getLogger(__name__)


def grid_table(cfg: CfgNode, model: nn.Module) -> BudgetTable:
    """The evaluation grid's configs with their GFLOPs (no accuracy), by ascending GFLOPs."""
    rows = [dict(sub.to_dict(), gflops=model_stats(model, cfg, sub.width, sub.frames, sub.crop)["gflops"])
            for sub in SubnetSpace(cfg).eval_grid()]
    return BudgetTable(sorted(rows, key=lambda r: r["gflops"]))


def export_plan(cfg: CfgNode, model: nn.Module, table: Optional[BudgetTable]) -> List[Dict]:
    """The rows to export, each once, with ``budget_gflops``: the EXPORT.BUDGETS it serves.

    With budgets: the row ``select`` picks for each, from the query table when the grid was evaluated,
    else from the grid's configs (without accuracies: the costliest that fits). Without budgets:
    every row of the query table, else the grid's smallest, a middle and its full config.
    """
    budgets = [float(b) for b in cfg.EXPORT.BUDGETS]
    source = table if table else grid_table(cfg, model)
    if budgets:
        chosen: Dict[str, Dict] = {}
        for b in budgets:
            row = source.select(gflops=b)
            chosen.setdefault(str(row_config(row)), dict(row, budget_gflops=[]))["budget_gflops"].append(b)
        return list(chosen.values())
    if table:
        return list(table)
    rows = source.rows
    return list({str(row_config(r)): r for r in (rows[0], rows[len(rows) // 2], rows[-1])}.values())


def export_checkpoint(cfg: CfgNode, checkpoint: str, out_dir: str, measure_latency: bool = False) -> Dict:
    """Export ``checkpoint`` as a bundle in ``out_dir`` (see ``export_plan`` for the configs);
    configs without calibrated BN statistics are calibrated first (``BankStore``). With
    ``measure_latency`` the batch-1 times go into OUTPUT_DIR/query_table.json as ``latency_ms``
    (``BudgetTable.select(latency_ms=...)`` then picks among the measured configs). Returns the manifest.
    """
    model = build_model(cfg)
    load_checkpoint(checkpoint, model)
    table_path = os.path.join(cfg.OUTPUT_DIR, QUERY_TABLE)
    table = BudgetTable.load(table_path) if os.path.isfile(table_path) else None
    rows = export_plan(cfg, model, table)
    store = BankStore(cfg, checkpoint)
    for sub in map(row_config, rows):
        if store.prepare(model, sub, torch.device("cpu")):
            logger.info("calibrated BN statistics of %s on %d batches", sub, bank_batches(cfg))
    warning = busy_cpu_warning() if measure_latency else None  # the latencies are CPU times
    if warning:
        logger.warning(warning)
    manifest = export_bundle(model, cfg, store.bank, rows, out_dir, source_checkpoint=checkpoint,
                             formats=cfg.EXPORT.FORMATS, query_table=list(table or rows),
                             measure_latency=measure_latency)
    if table and measure_latency:
        table.with_latencies(measured_latencies(manifest["budgets"])).save(table_path)
        logger.info("wrote the measured latencies (batch 1, ms) into %s", table_path)
    return manifest
