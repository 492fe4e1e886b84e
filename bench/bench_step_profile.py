"""Where the time of one mutual-learning step goes, by kind of operator.

Runs ``mutual_step`` (the configs ``ConfigSampler`` draws for one step, on one random batch) under
``torch.profiler`` and splits the step's CPU time into: convolution backward and forward, each for
depthwise (one input channel per filter: X3D's channel-wise 3x3x3 and the stem's temporal conv; their
backward runs as forward convs in ``slim/onednn.py`` and counts as backward) and other dense convs;
the unstrided 1x1x1 convs, which run in training as matrix products (``slim/onednn.py``), forward +
backward; BatchNorm forward + backward; everything else (activations, the optimizer, input derivation,
autograd bookkeeping). Times are the operators' inclusive CPU times summed over the
profiled steps and divided by their number; ``other`` is the step's wall time minus the rest.

    python bench/bench_step_profile.py --cfg configs/demo/X3D_DEMO.yaml --batch 16
"""
import time
from typing import Dict

import torch
from fvcore.common.config import CfgNode
from torch.profiler import ProfilerActivity, profile

from bench_train_step import train_step_runs
from common import step_parser, write_json
from mutualnet_video.config import load_config
from mutualnet_video.utils.machine import machine_record

CATEGORIES = ("conv_backward_depthwise", "conv_backward_dense", "conv_forward_depthwise", "conv_forward_dense",
              "pointwise_matmul", "batch_norm", "other")
# the autograd Functions of slim/onednn.py, by the category of all they run (the convs inside included)
FUNCTION_EVENTS = {"_DepthwiseConv3dBackward": "conv_backward_depthwise",  # two forward convs
                   "_PointwiseConv3d": "pointwise_matmul", "_PointwiseConv3dBackward": "pointwise_matmul"}


def _is_depthwise(weight_shape) -> bool:
    """A conv weight ``(C_out, C_in / groups, k...)`` with one input channel per filter (and more than one filter)."""
    return len(weight_shape) >= 3 and weight_shape[1] == 1 and weight_shape[0] > 1


def _category(event) -> str:
    """The category of a profiler event, or '' for the rest (which ``other`` covers)."""
    name, shapes = event.name, event.input_shapes
    if name in FUNCTION_EVENTS:
        return FUNCTION_EVENTS[name]
    if name == "aten::convolution_backward":  # inputs: grad_output, input, weight, ...
        return "conv_backward_" + ("depthwise" if _is_depthwise(shapes[2]) else "dense")
    if name == "aten::convolution":  # inputs: input, weight, ...
        return "conv_forward_" + ("depthwise" if _is_depthwise(shapes[1]) else "dense")
    if name in ("aten::native_batch_norm", "aten::native_batch_norm_backward"):
        return "batch_norm"
    return ""


def _counted_above(event) -> bool:
    """Whether an enclosing event has a category already: its time includes this one's."""
    parent = event.cpu_parent
    while parent is not None:
        if _category(parent):
            return True
        parent = parent.cpu_parent
    return False


def profile_step(cfg: CfgNode, batch: int, steps: int = 3, step: int = 0) -> Dict:
    """Profile ``steps`` mutual steps (after one untimed) on ``batch`` clips; ms per step by category."""
    configs, runs = train_step_runs(cfg, batch, step)
    mutual = runs["mutual"]
    mutual()  # warm-up: allocations, oneDNN primitive caches
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            mutual()
        wall_ms = (time.perf_counter() - start) * 1000.0 / steps
    ms = dict.fromkeys(CATEGORIES, 0.0)
    for event in prof.events():
        category = _category(event)
        if category and not _counted_above(event):
            ms[category] += event.cpu_time_total / 1000.0 / steps  # us, inclusive of the kernels it calls
    ms["other"] = wall_ms - sum(ms.values())  # negative only if an operator were counted twice
    return {
        "arch": cfg.MODEL.ARCH, "batch": batch, "steps": steps, "configs": [str(c) for c in configs],
        "step_ms": wall_ms, "ms": ms, "fraction": {k: v / wall_ms for k, v in ms.items()},
        "threads": torch.get_num_threads(),
    }


def print_profile(result: Dict) -> None:
    print(f"one mutual step ({', '.join(result['configs'])}; batch {result['batch']}): {result['step_ms']:.0f} ms")
    for key in CATEGORIES:
        print(f"  {key:>24}: {result['ms'][key]:8.1f} ms  {100 * result['fraction'][key]:5.1f}%")


def main(argv=None):
    parser = step_parser(__doc__, "configs/demo/X3D_DEMO.yaml", 16, "output/bench/bench_step_profile.json")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after one warm-up step)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config([args.cfg], args.opts)
    result = {"cfg": args.cfg, **profile_step(cfg, args.batch, args.steps, args.step), "machine": machine_record()}
    print_profile(result)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
