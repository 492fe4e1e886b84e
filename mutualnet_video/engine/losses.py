"""The two losses of mutual learning: the label loss of the full config, and in-place
distillation of every other config towards the full config's prediction."""
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import ConfigError

LabelLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with soft targets ``(N, K)`` (class indices ``(N,)`` are one-hot encoded)."""
    if targets.dim() == 1:
        targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()


LABEL_LOSSES = {"cross_entropy": F.cross_entropy, "soft_cross_entropy": soft_cross_entropy}


def label_loss(name: str) -> LabelLoss:
    """The loss named by ``MODEL.LOSS_FUNC``: ``(logits (N, K), labels) -> scalar``."""
    if name not in LABEL_LOSSES:
        raise ConfigError(f"MODEL.LOSS_FUNC must be one of {sorted(LABEL_LOSSES)}, got {name!r}")
    return LABEL_LOSSES[name]


def distillation_loss(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """``KL(target || softmax(logits))`` averaged over the batch (``batchmean``), no temperature.

    Args:
        logits: ``(N, K)`` logits of a sub-network.
        target_probs: ``(N, K)`` class probabilities of the full network, detached by the caller.
    """
    return F.kl_div(F.log_softmax(logits.float(), dim=-1), target_probs, reduction="batchmean")
