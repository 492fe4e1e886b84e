"""Latency of a model on the current device: warm-up, then the median of timed repeats."""
import statistics
import time
from typing import Callable

import torch


def measure_latency(run: Callable[[], object], warmup: int = 3, repeats: int = 10, cuda: bool = False) -> float:
    """Median wall time of ``run()`` in milliseconds (CUDA synchronised before each reading)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
