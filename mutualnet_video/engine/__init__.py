"""Training: which configs a step trains (``ConfigSampler``), the mutual-learning step
(``mutual_step``), the loop (``train``), the validation (``evaluate``) and the final test over the
grid of configs with BN re-calibration (``test``, ``evaluate_grid``)."""
from .evaluate import evaluate
from .grid import evaluate_grid
from .losses import distillation_loss, label_loss
from .optim import LRSchedule, build_optimizer, param_groups
from .sampler import ConfigSampler
from .step import NonFiniteLossError, StepResult, mutual_step
from .tester import test
from .trainer import Trainer, train

__all__ = [
    "ConfigSampler", "LRSchedule", "NonFiniteLossError", "StepResult", "Trainer", "build_optimizer",
    "distillation_loss", "evaluate", "evaluate_grid", "label_loss", "mutual_step", "param_groups", "test",
    "train",
]
