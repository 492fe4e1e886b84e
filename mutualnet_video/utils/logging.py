"""Run logging: human lines on stdout and in ``OUTPUT_DIR/stdout.log``, PySlowFast's json stats
lines (``json_stats: {...}``, also appended to ``OUTPUT_DIR/json_stats.log``) and, optionally,
TensorBoard scalars. Only the master process writes; other ranks print warnings and errors only."""
import decimal
import logging
import os
import sys
from typing import Any, Dict, List, Optional

import simplejson
from fvcore.common.config import CfgNode

from .distributed import is_master_proc

logger = logging.getLogger(__name__)

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s: %(lineno)4d: %(message)s"
_OURS = "_mutualnet_video_handler"


def setup_logging(output_dir: Optional[str] = None) -> None:
    """Configure the root logger for this process (replacing handlers a previous call installed)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers = []
    if is_master_proc():
        handlers.append(logging.StreamHandler(sys.stdout))
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)
            handlers.append(logging.FileHandler(os.path.join(output_dir, "stdout.log"), mode="a"))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
        handlers[0].setLevel(logging.WARNING)
    for handler in handlers:
        setattr(handler, _OURS, True)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def _rounded(value: Any) -> Any:
    """Floats as 5-decimal Decimals (PySlowFast's json stats format), recursively."""
    if isinstance(value, float):
        return decimal.Decimal(f"{value:.5f}") if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


STATS_FILE, STATS_PREFIX = "json_stats.log", "json_stats: "


def format_json_stats(stats: Dict[str, Any]) -> str:
    """``json_stats: {...}`` with sorted keys and floats at 5 decimals."""
    return STATS_PREFIX + simplejson.dumps(_rounded(stats), sort_keys=True, use_decimal=True)


def read_json_stats(output_dir: str, kind: str) -> List[Dict[str, Any]]:
    """The ``_type == kind`` records of OUTPUT_DIR/json_stats.log, in order ([] without the file)."""
    path = os.path.join(output_dir, STATS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        records = [simplejson.loads(line[len(STATS_PREFIX):]) for line in f if line.startswith(STATS_PREFIX)]
    return [r for r in records if r["_type"] == kind]


class StatsLog:
    """Sink of the json stats records (``_type`` train_iter, train_epoch, val_epoch, test, and diverged:
    the step whose loss was not finite, just before the trainer stops): a
    ``json_stats:`` line in the log and in ``OUTPUT_DIR/json_stats.log``, and, with
    ``TENSORBOARD.ENABLE``, each number as a scalar ``<_type>/<key>`` at the given step."""

    def __init__(self, cfg: CfgNode):
        self.master = is_master_proc()
        self.path = os.path.join(cfg.OUTPUT_DIR, STATS_FILE)
        self.tensorboard = self._tensorboard(cfg) if self.master else None

    @staticmethod
    def _tensorboard(cfg: CfgNode):
        if not cfg.TENSORBOARD.ENABLE:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.warning("TENSORBOARD.ENABLE is set but tensorboard is not installed "
                           "(pip install tensorboard): continuing without TensorBoard")
            return None
        return SummaryWriter(cfg.TENSORBOARD.LOG_DIR or os.path.join(cfg.OUTPUT_DIR, "runs"))

    def write(self, stats: Dict[str, Any], step: int) -> None:
        if not self.master:
            return
        line = format_json_stats(stats)
        logger.info(line)
        with open(self.path, "a") as f:
            f.write(line + "\n")
        if self.tensorboard is not None:
            for key, value in stats.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.tensorboard.add_scalar(f"{stats['_type']}/{key}", value, step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
