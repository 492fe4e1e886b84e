"""Meters: running averages, top-k counts and per-iteration timing."""
import time
from typing import Sequence, Tuple

import torch


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> Tuple[int, ...]:
    """Number of samples whose label is among the top-k logits, for each k.

    Args:
        logits: ``(N, K)``; labels: ``(N,)`` class indices (or ``(N, K)`` soft targets: argmax).
    """
    if labels.dim() == 2:
        labels = labels.argmax(dim=-1)
    top = logits.topk(min(max(ks), logits.shape[-1]), dim=-1).indices  # (N, k_max)
    hits = top == labels.unsqueeze(-1)
    return tuple(int(hits[:, :k].any(dim=-1).sum()) for k in ks)


class AverageMeter:
    """Weighted running average of a scalar."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, value: float, n: int = 1) -> None:
        self.total += value * n
        self.count += n

    @property
    def avg(self) -> float:
        return self.total / max(self.count, 1)


class IterTimer:
    """Splits each iteration's wall time into waiting for data and computing."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.data = AverageMeter()
        self.iteration = AverageMeter()
        self.last_data = self.last_iter = 0.0

    def data_ready(self) -> None:
        self.last_data = time.perf_counter() - self.last
        self.data.update(self.last_data)

    def step_done(self) -> None:
        now = time.perf_counter()
        self.last_iter, self.last = now - self.last, now
        self.iteration.update(self.last_iter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
