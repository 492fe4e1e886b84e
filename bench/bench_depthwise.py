"""What ``slim/onednn.py`` buys: the channels-last depthwise backward and the larger oneDNN primitive cache.

1. Per depthwise conv of the model (hooked at the full config, batch ``--batch``): the forward, PyTorch's
   own backward (``F.conv3d``) and ours (``slim.onednn.conv3d``: channels-last copies in and out),
   input and weight gradients, interleaved medians.
2. Mutual-learning steps with the configs the sampler draws (new ones every step, as in training), in a
   fresh process per variant, because oneDNN reads its cache capacity once: PyTorch's backward or ours,
   times oneDNN's default cache (1024) or ``PRIMITIVE_CACHE_CAPACITY``. ``--warm`` steps first, then
   the mean ms of ``--steps`` steps, and the process's resident memory at the end.

    python bench/bench_depthwise.py --cfg configs/demo/X3D_DEMO.yaml --batch 16 [--steps 100 --warm 50]

Writes ``--out`` (default output/bench/bench_depthwise.json; the committed run is
bench/results_depthwise.json). About 8 minutes on 2 cores, most of it the slow variants of section 2.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List

import torch
import torch.nn.functional as F

from common import interleaved_ms, status_bytes, step_parser, write_json
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.config import load_config
from mutualnet_video.engine import ConfigSampler, build_optimizer, label_loss, mutual_step
from mutualnet_video.models import build_model
from mutualnet_video.slim import SlimConv3d
from mutualnet_video.slim import layers as slim_layers
from mutualnet_video.slim.onednn import PRIMITIVE_CACHE_CAPACITY, conv3d, is_depthwise
from mutualnet_video.utils.machine import machine_record

DEFAULT_CACHE = 1024  # oneDNN's own default
VARIANTS = {"pytorch backward, cache 1024": ("pytorch", DEFAULT_CACHE),
            "ours, cache 1024": ("ours", DEFAULT_CACHE),
            f"pytorch backward, cache {PRIMITIVE_CACHE_CAPACITY}": ("pytorch", PRIMITIVE_CACHE_CAPACITY),
            f"ours, cache {PRIMITIVE_CACHE_CAPACITY} (the package)": ("ours", PRIMITIVE_CACHE_CAPACITY)}


def depthwise_layers(cfg, batch: int) -> List[Dict]:
    """Section 1: one row per depthwise conv the full config runs."""
    model = build_model(cfg)
    space = SubnetSpace(cfg)
    calls = []
    hooks = [m.register_forward_hook(lambda m, inp, out: calls.append((m, inp[0].shape)))
             for m in model.modules() if isinstance(m, SlimConv3d) and is_depthwise(m.weight, m.groups)]
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
        rows.append({"input": list(shape), "kernel": list(conv.kernel_size), "stride": list(conv.stride),
                     "forward_ms": fwd, "pytorch_fwd_bwd_ms": ms["pytorch"], "ours_fwd_bwd_ms": ms["ours"],
                     "speedup": ms["pytorch"] / ms["ours"]})
    return rows


def steps_child(cfg, batch: int, kernel: str, steps: int, warm: int) -> Dict:
    """In this (fresh) process: ``warm`` + ``steps`` mutual steps with the sampler's configs."""
    if kernel == "pytorch":
        slim_layers.conv3d = F.conv3d  # what SlimConv3d calls
    torch.manual_seed(0)
    model = build_model(cfg).train()
    sampler = ConfigSampler(cfg)
    clip = SubnetSpace(cfg).dummy_input(sampler.full, batch)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch,))
    optimizer, loss = build_optimizer(model, cfg), label_loss(cfg.MODEL.LOSS_FUNC)
    for step in range(warm + steps):
        if step == warm:
            start = time.perf_counter()
        mutual_step(model, clip, labels, sampler.sample(step), optimizer, loss)
    ms = (time.perf_counter() - start) * 1000.0 / steps
    return {"step_ms": ms, "rss_mib": status_bytes("VmRSS") / 2 ** 20}


def mutual_steps(args) -> Dict[str, Dict]:
    """Section 2: each variant in its own process (``--child KERNEL``, the cache size in its environment)."""
    results = {}
    for name, (kernel, capacity) in VARIANTS.items():
        env = {**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": str(capacity)}
        cmd = [sys.executable, os.path.abspath(__file__), "--cfg", args.cfg, "--batch", str(args.batch),
               "--threads", str(args.threads), "--steps", str(args.steps), "--warm", str(args.warm),
               "--child", kernel, "--opts", *args.opts]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(f"  {name:>40}: {results[name]['step_ms']:7.0f} ms a step, {results[name]['rss_mib']:6.0f} MiB",
              flush=True)
    return results


def main(argv=None):
    parser = step_parser(__doc__, "configs/demo/X3D_DEMO.yaml", 16, "output/bench/bench_depthwise.json")
    parser.add_argument("--steps", type=int, default=100, help="timed mutual steps per variant")
    parser.add_argument("--warm", type=int, default=50, help="untimed steps before them")
    parser.add_argument("--child", choices=("pytorch", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config([args.cfg], args.opts)
    if args.child:
        print(json.dumps(steps_child(cfg, args.batch, args.child, args.steps, args.warm)))
        return None
    print(f"depthwise convs of the full config, batch {args.batch}, {args.threads} threads: forward + backward ms")
    layers = depthwise_layers(cfg, args.batch)
    for r in layers:
        print(f"  {str(r['input']):>24} k{r['kernel']} s{r['stride']}: forward {r['forward_ms']:5.2f}, "
              f"PyTorch {r['pytorch_fwd_bwd_ms']:6.2f}, ours {r['ours_fwd_bwd_ms']:6.2f} ({r['speedup']:.1f}x)")
    print(f"mutual steps with new configs every step ({args.warm} warm-up, {args.steps} timed):")
    steps = mutual_steps(args)
    result = {"cfg": args.cfg, "batch": args.batch, "threads": args.threads, "layers": layers,
              "layers_total_speedup": sum(r["pytorch_fwd_bwd_ms"] for r in layers) / sum(r["ours_fwd_bwd_ms"] for r in layers),
              "mutual_steps": steps, "machine": machine_record()}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
