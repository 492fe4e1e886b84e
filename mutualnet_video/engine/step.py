"""One mutual-learning iteration: ``mutual_step``."""
import contextlib
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from ..config import SubnetConfig
from ..data.derive import Inputs, derive_input
from ..slim import width
from ..utils.distributed import all_reduce_mean
from .losses import LabelLoss, distillation_loss


class NonFiniteLossError(FloatingPointError):
    """A loss was NaN or infinite; the message names the config and, once the trainer adds it, the step."""

    def __init__(self, config: SubnetConfig, loss: float, where: str = ""):
        self.config, self.loss, self.where = config, loss, where
        at = f" at {where}" if where else ""
        super().__init__(
            f"non-finite loss ({loss}){at} for sub-network {config}; the run is stopped. "
            "Lower SOLVER.BASE_LR, enable warm-up (SOLVER.WARMUP_EPOCHS) or check the input data."
        )


@dataclass
class StepResult:
    """What one step trained: ``losses[i]`` belongs to ``configs[i]`` (averaged over ranks);
    ``logits`` are the full config's ``(N, K)`` logits on this rank, detached."""

    configs: List[SubnetConfig]
    losses: List[float]
    logits: torch.Tensor

    @property
    def loss(self) -> float:
        return sum(self.losses)


@contextlib.contextmanager
def _bn_stats_frozen(model: nn.Module, frozen: bool):
    """BN layers normalise with batch statistics but leave their running statistics unchanged.

    Sub-networks train this way, so the running statistics follow the full config only; every other
    config gets its own by BN re-calibration after training. Gradients are unaffected.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if frozen else []
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    try:
        yield
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum


def _grad_sync(model: nn.Module, sync: bool):
    """DDP all-reduces gradients only in the backward of a forward run outside ``no_sync``."""
    if sync or not isinstance(model, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def mutual_step(
    model: nn.Module,
    inputs: Inputs,
    labels: torch.Tensor,
    configs: Sequence[SubnetConfig],
    optimizer: torch.optim.Optimizer,
    label_loss: LabelLoss,
    *,
    distill_weight: float = 1.0,
    inplace_distill: bool = True,
    reduce_pathways: Sequence[int] = (0,),
    scaler: Optional[torch.amp.GradScaler] = None,
) -> StepResult:
    """Train ``configs`` on one batch, then take one optimizer step.

    ``configs[0]`` (the full config) learns from the labels; every other config learns from the
    full config's detached prediction, ``KL(softmax(full) || softmax(sub))``, on the input derived
    from the same clip. Each config is backpropagated right after its forward (one graph alive at a
    time); gradients accumulate and, under DDP, are all-reduced once, in the last backward. BN
    running statistics follow the full config only (the others are re-calibrated after training).

    Args:
        model: a slimmable model, possibly wrapped in DistributedDataParallel.
        inputs: the full batch, ``(N, C, T, H, W)`` or ``[slow, fast]``.
        labels: ``(N,)`` class indices (or ``(N, K)`` soft targets for a soft label loss).
        configs: the full config first, then the others (``ConfigSampler.sample``).
        label_loss: ``(logits (N, K), labels) -> scalar`` for the full config.
        distill_weight: weight of each sub-network's loss.
        inplace_distill: False for the ablation without distillation: every other config learns
            from the labels too, with ``label_loss`` (US-Nets' comparison).
        reduce_pathways: SlowFast pathways fed the reduced input (see ``derive_input``).
        scaler: a GradScaler for mixed precision: forwards then run under autocast on the batch's
            device (float16 on CUDA; bfloat16 on a CPU).
    Raises:
        NonFiniteLossError: a loss is NaN or infinite (before the optimizer step, on every rank).
    """
    optimizer.zero_grad(set_to_none=True)
    losses, full_logits, target = [], None, None
    for i, sub in enumerate(configs):
        is_full, is_last = i == 0, i == len(configs) - 1
        with _grad_sync(model, is_last), width(model, sub.width), _bn_stats_frozen(model, not is_full):
            with torch.autocast(labels.device.type, enabled=scaler is not None):
                logits = model(derive_input(inputs, sub, reduce_pathways))
            if is_full:
                loss = label_loss(logits.float(), labels)
                full_logits = logits.detach()
                target = torch.softmax(full_logits.float(), dim=-1)
            elif inplace_distill:
                loss = distill_weight * distillation_loss(logits, target)
            else:
                loss = distill_weight * label_loss(logits.float(), labels)
            (loss if scaler is None else scaler.scale(loss)).backward()
        losses.append(loss.detach())
    values = all_reduce_mean(torch.stack(losses)).tolist()
    for sub, value in zip(configs, values):
        if not math.isfinite(value):
            raise NonFiniteLossError(sub, value)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    return StepResult(list(configs), values, full_logits)
