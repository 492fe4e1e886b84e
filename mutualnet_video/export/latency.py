"""Latency of a model on the current device: warm-up, then the median of timed repeats; and a
warning when other work shares the CPU (its timings would say more about that work than the model)."""
import os
import statistics
import time
from typing import Callable, Optional

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


def busy_cpu_warning() -> Optional[str]:
    """A warning when the 1-minute load average exceeds the CPU cores (plus 0.5 for noise): other
    processes compete for the cores, and with OpenMP threads on both sides CPU timings can grow by
    orders of magnitude (measured: 0.8 ms -> 1036 ms on 2 cores). None when the CPU looks free or the
    platform has no load average."""
    if not hasattr(os, "getloadavg"):
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load <= cores + 0.5:
        return None
    return (f"the CPU is busy (load average {load:.1f} on {cores} cores): latencies measured now are "
            "inflated by the other processes; measure on an idle machine")
