"""What the benchmarks share: interleaved timing with medians and json output."""
import json
import os
import statistics
from typing import Callable, Dict, Hashable

from mutualnet_video.export import measure_latency


def interleaved_ms(runs: Dict[Hashable, Callable[[], object]], repeats: int, warmup: int = 1) -> Dict[Hashable, float]:
    """Median wall time, in ms, of each ``runs[key]()``.

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
            times[key].append(measure_latency(runs[key], warmup=0, repeats=1))
    return {key: statistics.median(t) for key, t in times.items()}


def write_json(path: str, result: Dict) -> None:
    """Write ``result`` to ``path`` (indented), creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
