"""What ``slim/onednn.py`` buys: the depthwise backward as forward convs, pointwise convs as matrix
products, and the larger oneDNN primitive cache.

1. Per depthwise and per pointwise conv of the model (hooked at the full config, batch ``--batch``): the
   forward, and forward + backward by PyTorch's kernels (``F.conv3d``) and by ours
   (``slim.onednn.conv3d``), input and weight gradients, interleaved medians.
2. Mutual-learning steps with the configs the sampler draws (new ones every step, as in training), in
   one process: blocks of ``--block`` steps with PyTorch's kernels, with the package's kernels of 2199da8
   (the depthwise backward by oneDNN on channels-last copies) and with the package's, interleaved (every
   variant runs the same configs, round after round, so a change of machine load hits all alike);
   median ms a step.
3. The cache: the package's kernels in fresh processes (oneDNN reads its capacity once) with oneDNN's
   default capacity (1024) and ``PRIMITIVE_CACHE_CAPACITY``, alternating, ``--rounds`` each: ``--warm``
   steps, then the mean ms of ``--steps`` steps, and the resident memory at the end.

    python bench/bench_cpu_kernels.py --cfg configs/demo/X3D_DEMO.yaml --batch 16

Writes ``--out`` (default output/bench/bench_cpu_kernels.json; the committed run is
bench/results_cpu_kernels.json). About 8 minutes on 2 cores.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F

from common import interleaved_ms, status_bytes, step_parser, write_json
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.config import load_config
from mutualnet_video.engine import ConfigSampler, build_optimizer, label_loss, mutual_step
from mutualnet_video.models import build_model
from mutualnet_video.slim import SlimConv3d
from mutualnet_video.slim import layers as slim_layers
from mutualnet_video.slim.onednn import PRIMITIVE_CACHE_CAPACITY, conv3d, is_depthwise, is_pointwise
from mutualnet_video.utils.machine import machine_record

DEFAULT_CACHE = 1024  # oneDNN's own default


class _ChannelsLastDepthwise(torch.autograd.Function):
    """The depthwise kernel of 2199da8, for comparison: ``F.conv3d`` forward, oneDNN's own backward
    (``aten.convolution_backward``) on ``channels_last_3d`` copies of the gradient and the input."""

    @staticmethod
    def forward(ctx, x, weight, stride, padding, groups):
        ctx.save_for_backward(x, weight)
        ctx.settings = (stride, padding, groups)
        return F.conv3d(x, weight, None, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, groups = ctx.settings
        cl = torch.channels_last_3d
        grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
            grad.contiguous(memory_format=cl), x.contiguous(memory_format=cl), weight, None, stride, padding,
            [1, 1, 1], False, [0, 0, 0], groups, [True, True, False])
        return grad_x.contiguous(), grad_w, None, None, None


def channels_last_depthwise(x, weight, bias, stride, padding, dilation, groups):
    """The package's ``conv3d`` with 2199da8's depthwise backward (pointwise convs as matrix products)."""
    if is_depthwise(weight, groups) and bias is None and torch.is_grad_enabled():
        return _ChannelsLastDepthwise.apply(x, weight, stride, padding, groups)
    return conv3d(x, weight, bias, stride, padding, dilation, groups)


KERNELS: Dict[str, Callable] = {
    "pytorch": F.conv3d,
    "depthwise backward by oneDNN on channels-last copies (2199da8)": channels_last_depthwise,
    "depthwise backward as forward convs (the package)": conv3d,
}


def _kind(conv: SlimConv3d) -> str:
    if is_depthwise(conv.weight, conv.groups):
        return "depthwise"
    return "pointwise" if is_pointwise(conv.weight, conv.stride, conv.padding, conv.groups) else ""


def conv_layers(cfg, batch: int) -> List[Dict]:
    """Section 1: one row per depthwise or pointwise conv the full config runs."""
    model = build_model(cfg)
    space = SubnetSpace(cfg)
    calls = []
    hooks = [m.register_forward_hook(lambda m, inp, out: calls.append((m, inp[0].shape)))
             for m in model.modules() if isinstance(m, SlimConv3d) and _kind(m)]
    with torch.no_grad():
        model(space.dummy_input(space.full, batch))
    for h in hooks:
        h.remove()
    rows = []
    for conv, shape in calls:
        x = torch.randn(shape, requires_grad=True)
        w = conv.weight.detach().clone().requires_grad_()
        args = (conv.stride, conv.padding, conv.dilation, conv.groups)
        grad = torch.randn_like(F.conv3d(x.detach(), w.detach(), None, *args))

        def backward(fn):
            def run():
                fn(x, w, None, *args).backward(grad)
                x.grad = w.grad = None
            return run

        with torch.no_grad():
            fwd = interleaved_ms({"f": lambda: F.conv3d(x, w, None, *args)}, 20, warmup=2)["f"]
        ms = interleaved_ms({"pytorch": backward(F.conv3d), "ours": backward(conv3d)}, 20, warmup=2)
        rows.append({"kind": _kind(conv), "input": list(shape), "weight": list(conv.weight.shape),
                     "stride": list(conv.stride), "forward_ms": fwd, "pytorch_fwd_bwd_ms": ms["pytorch"],
                     "ours_fwd_bwd_ms": ms["ours"], "speedup": ms["pytorch"] / ms["ours"]})
    return rows


def _training(cfg, batch: int):
    """A model, its optimizer and loss, one batch of full clips, and the sampler: what a step needs."""
    torch.manual_seed(0)
    model = build_model(cfg).train()
    sampler = ConfigSampler(cfg)
    clip = SubnetSpace(cfg).dummy_input(sampler.full, batch)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch,))
    return model, build_optimizer(model, cfg), label_loss(cfg.MODEL.LOSS_FUNC), clip, labels, sampler


def kernel_steps(cfg, batch: int, block: int, rounds: int, warm: int) -> Dict[str, float]:
    """Section 2: median ms a mutual step per kernel variant, interleaved blocks of new configs."""
    model, optimizer, loss, clip, labels, sampler = _training(cfg, batch)

    def steps(kernel):
        counter = itertools.count()  # every variant draws the same configs in the same round

        def run():
            slim_layers.conv3d = kernel  # what SlimConv3d calls
            for _ in range(block):
                mutual_step(model, clip, labels, sampler.sample(next(counter)), optimizer, loss)
        return run

    try:
        ms = interleaved_ms({name: steps(k) for name, k in KERNELS.items()}, rounds, warmup=warm)
    finally:
        slim_layers.conv3d = conv3d
    return {name: t / block for name, t in ms.items()}


def cache_child(cfg, batch: int, steps: int, warm: int) -> Dict:
    """In this (fresh) process: ``warm`` + ``steps`` mutual steps with the sampler's configs."""
    model, optimizer, loss, clip, labels, sampler = _training(cfg, batch)
    for step in range(warm + steps):
        if step == warm:
            start = time.perf_counter()
        mutual_step(model, clip, labels, sampler.sample(step), optimizer, loss)
    return {"step_ms": (time.perf_counter() - start) * 1000.0 / steps, "rss_mib": status_bytes("VmRSS") / 2 ** 20}


def cache_steps(args) -> Dict[str, List[Dict]]:
    """Section 3: each capacity in its own processes (``--child``, the capacity in the environment)."""
    results = {str(c): [] for c in (DEFAULT_CACHE, PRIMITIVE_CACHE_CAPACITY)}
    for _ in range(args.rounds_cache):
        for capacity in results:
            env = {**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": capacity}
            cmd = [sys.executable, os.path.abspath(__file__), "--cfg", args.cfg, "--batch", str(args.batch),
                   "--threads", str(args.threads), "--steps", str(args.steps), "--warm", str(args.warm),
                   "--child", "--opts", *args.opts]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            results[capacity].append(json.loads(out.strip().splitlines()[-1]))
            r = results[capacity][-1]
            print(f"  cache {capacity:>6}: {r['step_ms']:5.0f} ms a step, {r['rss_mib']:5.0f} MiB", flush=True)
    return results


def main(argv=None):
    parser = step_parser(__doc__, "configs/demo/X3D_DEMO.yaml", 16, "output/bench/bench_cpu_kernels.json")
    parser.add_argument("--block", type=int, default=5, help="section 2: steps per variant and round")
    parser.add_argument("--rounds", type=int, default=20, help="section 2: timed rounds")
    parser.add_argument("--steps", type=int, default=100, help="section 3: timed steps per process")
    parser.add_argument("--warm", type=int, default=40, help="section 3: untimed steps before them "
                        "(section 2: warm-up rounds = warm / block)")
    parser.add_argument("--rounds-cache", type=int, default=2, help="section 3: processes per capacity")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config([args.cfg], args.opts)
    if args.child:
        print(json.dumps(cache_child(cfg, args.batch, args.steps, args.warm)))
        return None
    print(f"depthwise and pointwise convs of the full config, batch {args.batch}, {args.threads} threads: "
          "forward + backward ms")
    layers = conv_layers(cfg, args.batch)
    for r in layers:
        print(f"  {r['kind']:>9} {str(r['input']):>24} w{r['weight']} s{r['stride']}: forward {r['forward_ms']:5.2f}, "
              f"PyTorch {r['pytorch_fwd_bwd_ms']:6.2f}, ours {r['ours_fwd_bwd_ms']:6.2f} ({r['speedup']:.1f}x)")
    totals = {kind: sum(r["pytorch_fwd_bwd_ms"] for r in layers if r["kind"] == kind)
              / sum(r["ours_fwd_bwd_ms"] for r in layers if r["kind"] == kind) for kind in ("depthwise", "pointwise")}
    print(f"mutual steps with new configs every step, interleaved blocks of {args.block} "
          f"({args.warm // args.block} warm-up rounds, {args.rounds} timed), cache {PRIMITIVE_CACHE_CAPACITY}:")
    kernels = kernel_steps(cfg, args.batch, args.block, args.rounds, args.warm // args.block)
    for name, ms in kernels.items():
        print(f"  {name:>36}: {ms:5.0f} ms a step", flush=True)
    print(f"the package's kernels, oneDNN cache {DEFAULT_CACHE} vs {PRIMITIVE_CACHE_CAPACITY}, fresh processes "
          f"({args.warm} warm-up, {args.steps} timed steps each):")
    cache = cache_steps(args)
    result = {"cfg": args.cfg, "batch": args.batch, "threads": args.threads, "layers": layers,
              "layers_total_speedup": totals, "kernel_steps_ms": kernels, "cache_steps": cache,
              "machine": machine_record()}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
