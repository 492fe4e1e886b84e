"""Optimizer (parameter groups with their weight decay) and PySlowFast's learning-rate schedule."""
import logging
import math
from typing import Dict, List

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode

from ..config import ConfigError

logger = logging.getLogger(__name__)

_BN_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv3d) and module.groups > 1 and module.groups == module.in_channels


def param_groups(model: nn.Module, cfg: CfgNode) -> List[Dict]:
    """Parameters split by weight decay, as PySlowFast plus MutualNet's depthwise rule:

    - normalisation layers' weights and biases: ``BN.WEIGHT_DECAY``;
    - depthwise (channel-wise) conv weights: 0 if ``MUTUALNET.ZERO_WD_DEPTHWISE``;
    - other 1-D parameters (biases): 0 if ``SOLVER.ZERO_WD_1D_PARAM``;
    - everything else: ``SOLVER.WEIGHT_DECAY``.
    Empty groups are dropped; every trainable parameter is in exactly one group.
    """
    groups = {"bn": [], "zero": [], "default": []}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(module, _BN_TYPES):
                groups["bn"].append(p)
            elif (_is_depthwise(module) and cfg.MUTUALNET.ZERO_WD_DEPTHWISE) or (
                p.ndim == 1 and cfg.SOLVER.ZERO_WD_1D_PARAM
            ):
                groups["zero"].append(p)
            else:
                groups["default"].append(p)
    decay = {"bn": cfg.BN.WEIGHT_DECAY, "zero": 0.0, "default": cfg.SOLVER.WEIGHT_DECAY}
    logger.info("optimizer parameter groups: %s",
                ", ".join(f"{k} {len(v)} tensors (wd {decay[k]})" for k, v in groups.items()))
    return [{"params": v, "weight_decay": decay[k], "name": k} for k, v in groups.items() if v]


def build_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """``SOLVER.OPTIMIZING_METHOD``: sgd (momentum, nesterov, dampening), adam or adamw."""
    groups, method, lr = param_groups(model, cfg), cfg.SOLVER.OPTIMIZING_METHOD, cfg.SOLVER.BASE_LR
    if method == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.SOLVER.MOMENTUM, dampening=cfg.SOLVER.DAMPENING,
                               nesterov=cfg.SOLVER.NESTEROV)
    if method in ("adam", "adamw"):
        optim_cls = torch.optim.Adam if method == "adam" else torch.optim.AdamW
        return optim_cls(groups, lr=lr)
    raise ConfigError(f"SOLVER.OPTIMIZING_METHOD must be sgd, adam or adamw, got {method!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class LRSchedule:
    """The learning rate at a (fractional) epoch, as PySlowFast computes it.

    Policies: ``cosine`` (from BASE_LR to COSINE_END_LR over MAX_EPOCH, or over the epochs after
    the warm-up if COSINE_AFTER_WARMUP) and ``steps_with_relative_lrs`` (``LRS[i] * BASE_LR`` from
    epoch ``STEPS[i]``). A linear warm-up from WARMUP_START_LR reaches the policy's value at
    WARMUP_EPOCHS. The trainer sets it every iteration at ``epoch + iter / iters_per_epoch``; being
    a function of that alone, it needs no state in a checkpoint.
    """

    def __init__(self, cfg: CfgNode):
        s = cfg.SOLVER
        self.policy, self.base_lr, self.end_lr = s.LR_POLICY, s.BASE_LR, s.COSINE_END_LR
        self.max_epoch, self.steps, self.lrs = s.MAX_EPOCH, list(s.STEPS), list(s.LRS)
        self.warmup_epochs, self.warmup_start_lr = s.WARMUP_EPOCHS, s.WARMUP_START_LR
        self.cosine_offset = s.WARMUP_EPOCHS if s.COSINE_AFTER_WARMUP else 0.0
        if self.policy == "cosine":
            if self.cosine_offset >= self.max_epoch:
                raise ConfigError("SOLVER.WARMUP_EPOCHS must be < SOLVER.MAX_EPOCH with COSINE_AFTER_WARMUP")
        elif self.policy == "steps_with_relative_lrs":
            if not self.steps or self.steps[0] != 0 or len(self.lrs) < len(self.steps):
                raise ConfigError("steps_with_relative_lrs needs SOLVER.STEPS starting at 0 and one "
                                  f"SOLVER.LRS entry per step, got STEPS {self.steps}, LRS {self.lrs}")
        else:
            raise ConfigError(f"SOLVER.LR_POLICY must be cosine or steps_with_relative_lrs, got {self.policy!r}")

    def _policy_lr(self, epoch: float) -> float:
        if self.policy == "cosine":
            t = (epoch - self.cosine_offset) / (self.max_epoch - self.cosine_offset)
            return self.end_lr + (self.base_lr - self.end_lr) * (math.cos(math.pi * t) + 1.0) * 0.5
        index = sum(1 for s in self.steps if s <= epoch) - 1
        return self.lrs[index] * self.base_lr

    def __call__(self, epoch: float) -> float:
        lr = self._policy_lr(epoch)
        if epoch < self.warmup_epochs:
            end = self._policy_lr(self.warmup_epochs)
            lr = self.warmup_start_lr + (end - self.warmup_start_lr) * epoch / self.warmup_epochs
        return lr
