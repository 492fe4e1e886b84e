"""Training: which configs a step trains (``ConfigSampler``), the mutual-learning step
(``mutual_step``), the loop (``train``), the validation (``evaluate``) and the final test over the
grid of configs with BN re-calibration (``test``, ``evaluate_grid``)."""
from .evaluate import evaluate
from .grid import eval_grid, evaluate_grid, test
from .losses import distillation_loss, label_loss
from .optim import LRSchedule, build_optimizer, param_groups
from .sampler import ConfigSampler, crop_sizes, frame_counts
from .step import NonFiniteLossError, StepResult, mutual_step
from .trainer import Trainer, train

__all__ = [
    "ConfigSampler", "LRSchedule", "NonFiniteLossError", "StepResult", "Trainer", "build_optimizer",
    "crop_sizes", "distillation_loss", "eval_grid", "evaluate", "evaluate_grid", "frame_counts", "label_loss", "mutual_step",
    "param_groups", "test", "train",
]
