"""The GPU part of the performance suite: what only an accelerator can tell (AMP, CUDA timings).

    python bench/gpu.py [--smoke] [--device cuda] [--out bench/results_gpu.json]

Every timed call is CUDA-synchronised before and after; contenders are interleaved (``common``)
and medians reported. AMP is ``torch.autocast`` (float16 on CUDA) with a GradScaler in training.
  1. slim_forward: slimmable model at widths 0.25/0.5/0.75/1.0 vs the static model cut at that
     width, forward in fp32 and AMP. On a GPU the slim layers' per-layer Python work is not hidden
     behind long kernels as on a CPU, so any overhead shows here first. Target <= 1.10x.
  2. train_step: one mutual-learning step vs the equivalent static steps
     (``bench_train_step.train_step_runs``), fp32 and AMP, with the peak CUDA memory of each run.
  3. throughput: X3D-M and SlowFast-R50 forward, clips/s and achieved TFLOP/s (fvcore GFLOPs, one
     multiply-add = one flop) in fp32, AMP and AMP + channels_last_3d, and that as a fraction of a
     dense n x n matmul of the same precision timed in the same rounds (fp32 or float16; the TF32
     switches in use are recorded).
Writes ``--out`` with the device name (``machine.cuda``) and top-level ``slim_overhead`` /
``slim_overhead_amp`` / ``step_ratio`` / ``step_ratio_amp``. Quick mode is sized for one H100 in a
few minutes. ``--device cpu --smoke`` runs the same code on a CPU (AMP = bfloat16 autocast); that is
what tests/test_bench.py checks, and its numbers say nothing about a GPU.
"""
import argparse
import copy
import dataclasses
import os
import sys
import time
from typing import Callable, Dict, Optional, Tuple

import torch

from bench_train_step import train_step_runs
from common import interleaved_ms, write_json
from run_all import (
    DEMO, KINETICS, SLIM_TARGET, STEP_TARGET, WIDTHS, Model, describe, inference, load, table, to_channels_last,
)
from mutualnet_video.budget import SubnetSpace, count_gflops
from mutualnet_video.utils.distributed import to_device
from mutualnet_video.export import extract_subnet
from mutualnet_video.models import build_model
from mutualnet_video.slim import width as at_width
from mutualnet_video.utils.machine import machine_record


@dataclasses.dataclass(frozen=True)
class GpuMode:
    """The sizes of one mode: sections 1 and 2 use ``slim`` (batches ``slim_batch`` / ``step_batch``),
    section 3 ``models`` at ``model_batch`` and a ``matmul_size`` x ``matmul_size`` matmul."""

    repeats: int
    slim: Model
    slim_batch: int
    step_batch: int
    models: Tuple[Model, ...]
    model_batch: int
    matmul_size: int


MODES = {
    "smoke": GpuMode(repeats=2, slim=Model(DEMO), slim_batch=2, step_batch=2,
                     models=(Model(f"{KINETICS}/X3D_M.yaml", 4, 32),), model_batch=1, matmul_size=256),
    "quick": GpuMode(repeats=20, slim=Model(f"{KINETICS}/X3D_M.yaml"), slim_batch=8, step_batch=8,
                     models=(Model(f"{KINETICS}/X3D_M.yaml"), Model(f"{KINETICS}/SLOWFAST_8x8_R50.yaml")),
                     model_batch=8, matmul_size=8192),
}


def amp_dtype(device: torch.device) -> torch.dtype:
    """What autocast computes in: float16 on CUDA, bfloat16 on a CPU."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def peak_mib(run: Callable[[], object], device: torch.device) -> Optional[float]:
    """Peak CUDA memory of ``run()`` above what was allocated before it, in MiB (None on a CPU)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2 ** 20


def slim_forward(mode: GpuMode, device: torch.device) -> Dict:
    """Section 1: per width, median ms of slimmable vs static forward, fp32 and AMP."""
    cfg = load(mode.slim)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()
    space = SubnetSpace(cfg)
    x = to_device(space.dummy_input(space.full, mode.slim_batch), device)
    dtype, rows = amp_dtype(device), []
    for w in WIDTHS:
        static = extract_subnet(model, w).eval()
        with at_width(model, w):
            ms = interleaved_ms({"slim_fp32": inference(model, x), "static_fp32": inference(static, x),
                                 "slim_amp": inference(model, x, dtype), "static_amp": inference(static, x, dtype)},
                                mode.repeats, warmup=3, cuda=device.type == "cuda")
        rows.append({"width": w, **{f"{k}_ms": v for k, v in ms.items()},
                     "ratio_fp32": ms["slim_fp32"] / ms["static_fp32"], "ratio_amp": ms["slim_amp"] / ms["static_amp"]})
    print(table(["width", "slim fp32 ms", "static fp32 ms", "ratio", "slim amp ms", "static amp ms", "ratio"],
                [[r["width"], r["slim_fp32_ms"], r["static_fp32_ms"], r["ratio_fp32"], r["slim_amp_ms"],
                  r["static_amp_ms"], r["ratio_amp"]] for r in rows]))
    return {**describe(mode.slim, cfg, mode.slim_batch), "amp_dtype": str(dtype), "target": SLIM_TARGET,
            "rows": rows, "worst_ratio_fp32": max(r["ratio_fp32"] for r in rows),
            "worst_ratio_amp": max(r["ratio_amp"] for r in rows)}


def train_step(mode: GpuMode, device: torch.device) -> Dict:
    """Section 2: the mutual step vs the static steps of the same configs, fp32 and AMP: median ms
    of each run, the ratio, and each run's peak memory."""
    cfg = load(mode.slim)
    result = {}
    for precision, amp in (("fp32", False), ("amp", True)):
        torch.manual_seed(0)
        configs, runs = train_step_runs(cfg, mode.step_batch, device=str(device), amp=amp)
        ms = interleaved_ms(runs, mode.repeats, warmup=2, cuda=device.type == "cuda")
        mutual = ms.pop("mutual")
        result[precision] = {"configs": [str(c) for c in configs], "mutual_ms": mutual, "static_ms": ms,
                             "ratio": mutual / sum(ms.values()),
                             "peak_mib": {name: peak_mib(run, device) for name, run in runs.items()}}
    print(table(["precision", "mutual ms", "static total ms", "ratio", "mutual peak MiB", "largest static peak MiB"],
                [[p, r["mutual_ms"], sum(r["static_ms"].values()), r["ratio"], r["peak_mib"]["mutual"],
                  max((v for k, v in r["peak_mib"].items() if k != "mutual" and v is not None), default=None)]
                 for p, r in result.items()]))
    return {**describe(mode.slim, cfg, mode.step_batch), "target": STEP_TARGET, **result}


def throughput(mode: GpuMode, device: torch.device) -> Dict:
    """Section 3: forward clips/s and achieved TFLOP/s per model and precision, vs matmuls."""
    dtype, n = amp_dtype(device), mode.matmul_size
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a_half, b_half, half_name = a.to(dtype), b.to(dtype), str(dtype).removeprefix("torch.")
    models = {}
    for spec in mode.models:
        cfg = load(spec)
        torch.manual_seed(0)
        static = extract_subnet(build_model(cfg), 1.0).eval()
        space = SubnetSpace(cfg)
        gflop = count_gflops(static, space.dummy_input(space.full, 1)) * mode.model_batch
        static = static.to(device)
        x = to_device(space.dummy_input(space.full, mode.model_batch), device)
        cl_model, cl_x = copy.deepcopy(static).to(memory_format=torch.channels_last_3d), to_channels_last(x)
        runs = {"matmul_fp32": lambda: torch.mm(a, b), f"matmul_{half_name}": lambda: torch.mm(a_half, b_half),
                "fp32": inference(static, x), "amp": inference(static, x, dtype),
                "amp_channels_last_3d": inference(cl_model, cl_x, dtype)}
        ms = interleaved_ms(runs, mode.repeats, warmup=3, cuda=device.type == "cuda")
        # GFLOP per ms = TFLOP/s
        matmul = {k: n ** 3 / 1e9 / ms.pop(k) for k in [k for k in ms if k.startswith("matmul")]}
        reference = {k: matmul["matmul_fp32" if k == "fp32" else f"matmul_{half_name}"] for k in ms}
        variants = {k: {"ms": t, "clips_per_s": mode.model_batch / t * 1e3, "tflop_per_s": gflop / t,
                        "fraction_of_matmul": gflop / t / reference[k]} for k, t in ms.items()}
        models[spec.name] = {**describe(spec, cfg, mode.model_batch), "gflop_per_forward": gflop,
                             "matmul_tflop_per_s": matmul, "variants": variants}
    print(table(["model", "variant", "ms", "clips/s", "TFLOP/s", "of matmul"],
                [[name, k, v["ms"], v["clips_per_s"], v["tflop_per_s"], v["fraction_of_matmul"]]
                 for name, m in models.items() for k, v in m["variants"].items()]))
    for name, m in models.items():
        print(f"  {name}: matmul TFLOP/s " + ", ".join(f"{k} {v:.1f}" for k, v in m["matmul_tflop_per_s"].items()))
    return {"flop_convention": "fvcore: one multiply-add = one flop; the matmul counts n^3", "matmul_size": n,
            "amp_dtype": str(dtype), "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32,
                                              "cudnn": torch.backends.cudnn.allow_tf32},
            "models": models}


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (to check the code, not the GPU)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results_gpu.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu.py: no CUDA device here (torch.cuda.is_available() is False); "
                 "bench/run_all.py is the CPU suite, or pass --device cpu to check this script's code")
    name = "smoke" if args.smoke else "quick"
    mode = MODES[name]
    sections = [("slim_forward", slim_forward), ("train_step", train_step), ("throughput", throughput)]
    result, start = {"mode": name, "device": str(device), "machine": machine_record()}, time.perf_counter()
    for i, (key, run) in enumerate(sections, 1):
        print(f"\n== {i}. {key} ({name} mode, {device})", flush=True)
        result[key] = run(mode, device)
    result.update(slim_overhead=result["slim_forward"]["worst_ratio_fp32"],
                  slim_overhead_amp=result["slim_forward"]["worst_ratio_amp"],
                  step_ratio=result["train_step"]["fp32"]["ratio"], step_ratio_amp=result["train_step"]["amp"]["ratio"],
                  total_seconds=time.perf_counter() - start)
    print(f"\n== summary ({name} mode, {result['machine']['cuda'] or result['machine']['cpu']}, "
          f"{result['total_seconds']:.0f} s)")
    print(table(["check", "value", "target"],
                [[k, result[k], f"<= {SLIM_TARGET if k.startswith('slim') else STEP_TARGET}"]
                 for k in ("slim_overhead", "slim_overhead_amp", "step_ratio", "step_ratio_amp")]))
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
