"""What a finished run left behind, read back: its json stats records (the one reader of
``json_stats.log``), its validation history, its curves and its training cost.

Training GFLOPs of a run = sum over its steps of the GFLOPs (per clip, fvcore conv + linear forward,
see ``mutualnet_video.budget.flops``) of every config trained in the step, replayed with
``ConfigSampler`` (the trainer logs only every LOG_PERIOD-th step), x clips per step x 3 (a
training pass ~ forward + backward ~ 3 forwards). BN re-calibration, validation and the grid
evaluation are not counted; input downscaling is not counted.
"""
import json
import os
from typing import Dict, List, Optional, Sequence

from mutualnet_video.budget import BudgetTable, SubnetSpace, model_stats
from mutualnet_video.budget.table import CURVE_JSON, row_config
from mutualnet_video.config import SubnetConfig
from mutualnet_video.data import build_loader
from mutualnet_video.engine.grid import read_predictions, row_is_current
from mutualnet_video.engine.sampler import ConfigSampler
from mutualnet_video.models import build_model
from mutualnet_video.slim import slim_layers
from mutualnet_video.utils.logging import STATS_FILE, read_json_stats

TRAIN_PASS_FACTOR = 3  # one training pass on a clip ~ forward + backward ~ 3 forwards
CURVE_KEYS = ("width", "crop", "frames", "gflops", "params", "top1", "top5", "num_videos", "bn_batches", "views")
FACTORS = ("object", "direction")  # the synthetic classes are named <object>_<direction>


def _epoch_number(record: Dict) -> int:
    """``"k/N"`` -> k."""
    return int(record["epoch"].split("/")[0])


def last_per_epoch(records: List[Dict]) -> List[Dict]:
    """One record per epoch (a resumed run logs an epoch again: the last one counts), by epoch."""
    return sorted({_epoch_number(r): r for r in records}.values(), key=_epoch_number)


def last_epoch(output_dir: str) -> int:
    """The last epoch the run in ``output_dir`` logged (0 before the first)."""
    return max((_epoch_number(r) for r in read_json_stats(output_dir, "train_epoch")), default=0)


def finished_training(cfg) -> bool:
    """The run logged its last epoch (SOLVER.MAX_EPOCH)."""
    return last_epoch(cfg.OUTPUT_DIR) == cfg.SOLVER.MAX_EPOCH


def curve(output_dir: str) -> List[Dict]:
    """The rows of OUTPUT_DIR/curve.json ([] without the file), with the keys the summary keeps."""
    path = os.path.join(output_dir, CURVE_JSON)
    return [{k: r.get(k) for k in CURVE_KEYS} for r in BudgetTable.load(path)] if os.path.isfile(path) else []


def curve_complete(cfg) -> bool:
    """OUTPUT_DIR/curve.json has a row for every config of the run's grid, each measured as ``cfg``
    asks (as many BN calibration batches and test-time views; ``row_is_current``)."""
    done = {str(row_config(r)) for r in curve(cfg.OUTPUT_DIR) if row_is_current(r, cfg)}
    return {str(c) for c in SubnetSpace(cfg).eval_grid()} <= done


def val_history(output_dir: str) -> List[Dict]:
    """Per validated epoch: the epoch, and the single-view val top-1 per config the trainer validated
    (the full one first, then the smallest)."""
    return [{"epoch": _epoch_number(r), "configs": r["configs"], "top1": r["top1_acc"]}
            for r in last_per_epoch(read_json_stats(output_dir, "val_epoch"))]


def train_history(output_dir: str) -> List[Dict]:
    """Per trained epoch: the epoch, the full config's top-1 on that epoch's training clips (random views,
    BN in training mode) and its label loss: how well the largest config fits the training data."""
    return [{"epoch": _epoch_number(r), "top1": 100.0 - r["top1_err"], "loss_full": r["loss_full"]}
            for r in last_per_epoch(read_json_stats(output_dir, "train_epoch"))]


def class_names(data_dir: str) -> List[str]:
    """Class names by label, from ``classids.json`` in the data folder ([] without it)."""
    path = os.path.join(data_dir, "classids.json")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        ids = json.load(f)
    return sorted(ids, key=ids.get)


def factor_parts(names: Sequence[str]) -> Optional[List[List[str]]]:
    """Each class name split into its ``FACTORS`` (``<object>_<direction>``); None for other names."""
    parts = [name.split("_") for name in names]
    return parts if parts and all(len(p) == len(FACTORS) for p in parts) else None


def factor_accuracy(output_dir: str, names: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per config of the grid in ``output_dir`` (its ``predictions.json``): the % of videos whose
    predicted class has the true class's object, and its direction (``FACTORS``), for classes named
    ``<object>_<direction>``; {} without predictions or with other class names."""
    predictions = read_predictions(output_dir)
    parts = factor_parts(names)
    if not predictions["labels"] or parts is None:
        return {}
    seen = [(i, y) for i, y in enumerate(predictions["labels"]) if y >= 0]
    return {config: {factor: 100.0 * sum(parts[top1[i]][k] == parts[y][k] for i, y in seen) / len(seen)
                     for k, factor in enumerate(FACTORS)}
            for config, top1 in predictions["top1"].items()}


def diverged(output_dir: str) -> bool:
    """The training in ``output_dir`` stopped on a non-finite loss (its ``diverged`` record)."""
    return bool(read_json_stats(output_dir, "diverged"))


def sweep_score(output_dir: str) -> Optional[float]:
    """The sweep criterion: mean single-view val top-1 over the validated configs at the last
    val_epoch; None for a training that diverged (worse than any score)."""
    if diverged(output_dir):
        return None
    history = val_history(output_dir)
    if not history:
        raise SystemExit(f"{output_dir}: no val_epoch record in {STATS_FILE} (TRAIN.EVAL_PERIOD)")
    top1 = history[-1]["top1"]
    return sum(top1) / len(top1)


class FlopsTable:
    """GFLOPs per clip of ``cfg``'s model at a config, counted once per distinct (active channels of
    every slim layer, crop, frames): widths the width rule rounds to the same channels cost the same."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.model = build_model(cfg)
        self.layers = list(slim_layers(self.model))
        self.cache: Dict[tuple, float] = {}

    def __call__(self, sub: SubnetConfig) -> float:
        key = (tuple(layer.active_shape(sub.width) for layer in self.layers), sub.crop, sub.frames)
        if key not in self.cache:
            self.cache[key] = model_stats(self.model, self.cfg, sub.width, sub.frames, sub.crop)["gflops"]
        return self.cache[key]


def training_cost(cfg) -> Dict:
    """Training time (sum of the epochs' times) and training GFLOPs of a finished run (module doc)."""
    epochs = last_per_epoch(read_json_stats(cfg.OUTPUT_DIR, "train_epoch"))
    steps = max(r["step"] for r in epochs)
    sampler = ConfigSampler(cfg)
    for r in read_json_stats(cfg.OUTPUT_DIR, "train_iter"):  # the replay must be what the trainer trained
        if r["configs"] != [str(c) for c in sampler.sample(r["step"] - 1)]:
            raise SystemExit(f"{cfg.OUTPUT_DIR}: step {r['step']} trained {r['configs']}, the sampler replays "
                             f"{sampler.sample(r['step'] - 1)}")
    loader = build_loader(cfg, "train")
    clips = loader.batch_size if loader.drop_last else len(loader.dataset)
    flops = FlopsTable(cfg)
    forward = sum(flops(sub) for step in range(steps) for sub in sampler.sample(step))
    return {"train_s": sum(r["time_diff"] for r in epochs), "train_steps": steps,
            "clips_per_step": clips, "train_gflops": forward * clips * TRAIN_PASS_FACTOR}
