"""What the benchmarks share: interleaved timing with medians, and json output (``write_json``,
the atomic indented write of ``data_prep.common``)."""
import os
import statistics
import sys
from typing import Callable, Dict, Hashable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root: data_prep

from data_prep.common import write_json  # noqa: E402
from mutualnet_video.export import measure_latency  # noqa: E402

__all__ = ["interleaved_ms", "write_json"]


def interleaved_ms(runs: Dict[Hashable, Callable[[], object]], repeats: int, warmup: int = 1,
                   cuda: bool = False) -> Dict[Hashable, float]:
    """Median wall time, in ms, of each ``runs[key]()`` (``cuda``: synchronised before and after).

    ``warmup`` untimed rounds, then ``repeats`` timed rounds; every round calls each callable once,
    so a change of machine load during the run hits all of them alike. Odd rounds go in reverse
    order: whichever runs first after another contender finds the caches holding that one's data,
    and alternating spreads that cost evenly instead of charging it to the first key.
    """
    for _ in range(warmup):
        for run in runs.values():
            run()
    times = {key: [] for key in runs}
    order = list(runs)
    for round_ in range(repeats):
        for key in (order if round_ % 2 == 0 else order[::-1]):
            times[key].append(measure_latency(runs[key], warmup=0, repeats=1, cuda=cuda))
    return {key: statistics.median(t) for key, t in times.items()}

