"""What the benchmarks share: interleaved timing with medians, json output (``write_json``, the
atomic indented write of ``data_prep.common``), the process's memory (``status_bytes``), and plain
networks calling the slim layers' kernels."""
import argparse
import os
import statistics
import sys
import types
from typing import Callable, Dict, Hashable

import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root: data_prep

from data_prep.common import write_json  # noqa: E402
from mutualnet_video.export import measure_latency  # noqa: E402
from mutualnet_video.slim import SlimConv3d  # noqa: E402

__all__ = ["interleaved_ms", "status_bytes", "step_parser", "with_slim_kernels", "write_json"]


def status_bytes(key: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def with_slim_kernels(plain: nn.Module) -> nn.Module:
    """``plain`` (e.g. an ``extract_subnet`` network), its ``nn.Conv3d`` layers now calling the kernel
    the slim layers call (``SlimConv3d._conv_forward``: faster CPU kernels for depthwise and pointwise
    convs in training, ``slim/onednn.py``), so that slimmable-vs-static timings compare the slim
    bookkeeping, not two sets of kernels. Returns ``plain``."""
    for module in plain.modules():
        if type(module) is nn.Conv3d:
            module._conv_forward = types.MethodType(SlimConv3d._conv_forward, module)
    return plain


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


def step_parser(doc: str, cfg: str, batch: int, out: str) -> argparse.ArgumentParser:
    """The arguments every training-step benchmark takes (``--cfg --batch --step --threads --out
    --opts``), with its own defaults; a script adds its own before parsing."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default=cfg)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--step", type=int, default=0, help="which step's configs to use")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=out)
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE")
    return parser
