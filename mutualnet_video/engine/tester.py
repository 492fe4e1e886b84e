"""``test(cfg)``: the final evaluation of a run, as PySlowFast's ``test_net`` (the grid of configs,
each with BN re-calibration and multi-view testing; see ``engine.grid``)."""
import logging
from typing import Dict, List

from fvcore.common.config import CfgNode

from ..budget.table import row_config
from ..models import build_model
from ..models.loading import load_checkpoint
from ..utils.checkpoint import get_last_checkpoint
from ..utils.logging import StatsLog
from .grid import evaluate_grid

logger = logging.getLogger(__name__)


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

