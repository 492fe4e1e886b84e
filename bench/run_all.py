"""The performance suite: every speed claim of the package, each measured side by side in one run.

Each section compares two (or more) things in the same process, with interleaved repeats (every
round runs each contender once, odd rounds in reverse order) and medians:
  1. slimmable model at widths 0.25/0.5/0.75/1.0 vs the static model ``extract_subnet`` cuts at
     that width (its convs calling the slim layers' kernel, ``common.with_slim_kernels``): forward
     (eval, no grad) and forward + backward (train), each pair timed on its own
     (a training run between two forwards evicts the caches the next forward would find). Target
     <= 1.10x.
  2. one mutual-learning step vs the sum of the equivalent static steps
     (``bench_train_step.measure_train_step``). Target <= 1.10.
  3. our clip loader vs pytorchvideo's pipeline (``bench_loader.measure_loader``). Target >= 1.5x
     (ours with PyAV, the configs' backend; the worst worker count). And our train loader vs plain
     PyAV seek + decode + RGB conversion of the same clips, per codec (H.264 mp4, VP9 webm, Kinetics-like
     H.264 at 340x256 and short side 320; ``bench_loader.measure_loader_vs_raw``). Target >= 0.85 for each.
  4. exported TorchScript and ONNX Runtime latency vs eager PyTorch, batch 1 and 8, per width.
  5. achieved GFLOP/s of X3D-M and SlowFast-R50 forward (fvcore GFLOPs, one multiply-add = one
     flop, / time) vs a dense fp32 matmul counted the same way (n^3), eager, channels_last_3d and
     torch.compile (a compile failure is reported, not raised).
  6. time and peak memory of a training step (forward + backward) of one X3D over frames x crops,
     against the ~linear growth in frames x crop^2 expected.
X3D-XS and X3D-S are the same network (width 2.0, depth 2.2); they differ in input, 4 vs 13 frames.

Modes: ``--smoke`` tiny sizes, under a minute (what tests/test_bench.py runs); default quick, a few
minutes on 2 CPU cores (about half of it torch.compile; ``--no-compile`` skips it); ``--full`` the
published input sizes, longer. Every model input size is written to the json.

Threads: ``--threads`` (default 1). On this shared 2-core machine, 2 torch threads beside another
job made forwards 10-100x slower and erratic (OpenMP threads waiting on a busy core); DataLoader
workers use 1 thread each anyway.

Writes ``--out`` (default bench/results.json): ``slim_overhead``, ``step_ratio``, ``loader_ratio``,
``loader_vs_raw`` (per codec),
``checks`` (PASS/MISS against each target), ``machine`` and one detail section per comparison.

    python bench/run_all.py [--smoke | --full] [--threads 1] [--no-compile] [--out bench/results.json]
"""
import argparse
import copy
import ctypes
import dataclasses
import gc
import multiprocessing
import os
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from fvcore.common.config import CfgNode

from bench_loader import measure_loader, measure_loader_vs_raw, print_loader_table
from bench_train_step import measure_train_step, print_train_step
from common import interleaved_ms, status_bytes, with_slim_kernels, write_json
from mutualnet_video.utils.machine import machine_record
from mutualnet_video.budget import SubnetSpace, count_gflops
from mutualnet_video.config import SubnetConfig, load_config
from mutualnet_video.export import export_onnx, export_torchscript, extract_subnet
from mutualnet_video.export.formats import input_names
from mutualnet_video.models import build_model
from mutualnet_video.slim import width as at_width

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINETICS, DEMO = "configs/Kinetics", "configs/demo/X3D_DEMO.yaml"  # relative to ROOT
SLIM_TARGET, STEP_TARGET, LOADER_TARGET, LOADER_VS_RAW_TARGET = 1.10, 1.10, 1.5, 0.85
WIDTHS = (0.25, 0.5, 0.75, 1.0)
# section 1 runs FORWARD_REPEATS / TRAIN_REPEATS x the mode's repeats: the ratios are near 1, and at
# 5 repeats the worst width moved by 0.1 between runs (a forward is ~1/7 of a forward + backward)
FORWARD_REPEATS, TRAIN_REPEATS = 4, 2
MMAP_THRESHOLD = 64 * 1024  # bytes; see MEMORY_METHOD
MEMORY_METHOD = (
    "peak resident size (VmHWM) minus the resident size just before the step, in a fresh process whose "
    f"glibc malloc maps every block >= {MMAP_THRESHOLD // 1024} KiB on its own and unmaps it on free, so the "
    "resident size follows live memory: activations, grads and temporaries (the weights and the input are "
    "resident before and not counted). The peak is reset through /proc/self/clear_refs (Linux)."
)


@dataclasses.dataclass(frozen=True)
class Model:
    """A config file, built for ``frames`` x ``crop`` clips (None: the file's own DATA sizes).
    ``frames`` is DATA.NUM_FRAMES: for SlowFast, the Fast pathway's frames."""

    cfg: str
    frames: Optional[int] = None
    crop: Optional[int] = None

    @property
    def name(self) -> str:
        return os.path.splitext(os.path.basename(self.cfg))[0]


@dataclasses.dataclass(frozen=True)
class Mode:
    """The sizes of one mode, section by section (see the module docstring)."""

    repeats: int
    slim: Model
    slim_batch: int
    step_cfg: str
    step_batch: int
    loader: Dict  # measure_loader keyword arguments
    loader_vs_raw: Dict  # measure_loader_vs_raw keyword arguments
    export: Model
    export_widths: Tuple[float, ...]
    flops_models: Tuple[Model, ...]
    flops_batch: int
    matmul_size: int
    scaling: Model
    scaling_frames: Tuple[int, ...]
    scaling_crops: Tuple[int, ...]
    scaling_batch: int
    export_batches: Tuple[int, ...] = (1, 8)
    compile: bool = True


MODES = {
    "smoke": Mode(
        repeats=3, slim=Model(DEMO), slim_batch=2, step_cfg=DEMO, step_batch=2,
        loader=dict(videos=2, seconds=3.0, passes=1, workers=[0], batch=2, repeats=1),
        loader_vs_raw=dict(codecs=("h264_320x240", "vp9_320x240"), videos=2, seconds=2.0, batch=2, rounds=2),
        export=Model(DEMO), export_widths=(0.5, 1.0),
        flops_models=(Model(f"{KINETICS}/X3D_M.yaml", 4, 32), Model(f"{KINETICS}/SLOWFAST_8x8_R50.yaml", 8, 32)),
        flops_batch=1, matmul_size=512, compile=False,
        scaling=Model(DEMO), scaling_frames=(4, 8), scaling_crops=(16, 32), scaling_batch=2,
    ),
    "quick": Mode(
        repeats=5, slim=Model(f"{KINETICS}/X3D_XS.yaml"), slim_batch=2, step_cfg=f"{KINETICS}/X3D_XS.yaml",
        step_batch=2, loader=dict(videos=4, seconds=4.0, passes=2, workers=[0, 1], batch=4, repeats=3),
        loader_vs_raw=dict(videos=4, seconds=10.0, batch=4, rounds=12),
        export=Model(f"{KINETICS}/X3D_XS.yaml"), export_widths=(0.5, 0.75, 1.0),
        flops_models=(Model(f"{KINETICS}/X3D_M.yaml", 16, 112), Model(f"{KINETICS}/SLOWFAST_8x8_R50.yaml", 32, 112)),
        flops_batch=1, matmul_size=2048,
        scaling=Model(f"{KINETICS}/X3D_XS.yaml"), scaling_frames=(4, 8, 16), scaling_crops=(80, 112, 160),
        scaling_batch=1,
    ),
    "full": Mode(
        repeats=7, slim=Model(f"{KINETICS}/X3D_S.yaml"), slim_batch=2, step_cfg=f"{KINETICS}/X3D_S.yaml",
        step_batch=2, loader=dict(videos=12, seconds=10.0, passes=4, workers=[0, 1, 2], batch=4, repeats=3),
        loader_vs_raw=dict(videos=8, seconds=10.0, batch=4, rounds=30),
        export=Model(f"{KINETICS}/X3D_S.yaml"), export_widths=WIDTHS,
        flops_models=(Model(f"{KINETICS}/X3D_M.yaml"), Model(f"{KINETICS}/SLOWFAST_8x8_R50.yaml")),
        flops_batch=2, matmul_size=4096,
        scaling=Model(f"{KINETICS}/X3D_S.yaml"), scaling_frames=(4, 8, 16), scaling_crops=(80, 112, 160, 224),
        scaling_batch=2,
    ),
}


# ------------------------------------------------------------------------------------- helpers
def load(model: Model) -> CfgNode:
    """The config of ``model``, slimmable over [0.25, 1.0] so every width of ``WIDTHS`` exists."""
    opts = ["MUTUALNET.WIDTH_RANGE", "[0.25, 1.0]"]
    if model.frames:
        opts += ["DATA.NUM_FRAMES", str(model.frames)]
    if model.crop:
        opts += ["DATA.TRAIN_CROP_SIZE", str(model.crop)]
    return load_config(os.path.join(ROOT, model.cfg), opts)


def describe(model: Model, cfg: CfgNode, batch: int) -> Dict:
    """What the json says about a model and its input: config, arch and per-pathway (N, 3, T, H, W)."""
    space = SubnetSpace(cfg)
    return {"cfg": model.cfg, "arch": cfg.MODEL.ARCH, "batch": batch,
            "input_shapes": [list(s) for s in space.input_shapes(space.full, batch)]}


def to_channels_last(x):
    """A clip (N, C, T, H, W), or a list of them, in ``torch.channels_last_3d`` memory format."""
    if isinstance(x, list):
        return [t.contiguous(memory_format=torch.channels_last_3d) for t in x]
    return x.contiguous(memory_format=torch.channels_last_3d)


def inference(model: torch.nn.Module, x, dtype: Optional[torch.dtype] = None) -> Callable[[], object]:
    """A callable running one forward of ``model`` (eval mode, no grad) on ``x``; under autocast
    to ``dtype`` (on the model's device) if given."""
    device_type = next(model.parameters()).device.type

    def run():
        model.eval()
        with torch.no_grad(), torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
            return model(x)
    return run


def training(model: torch.nn.Module, x) -> Callable[[], None]:
    """A callable running forward + backward of ``model`` (train mode) on ``x``, grads cleared first."""
    def run():
        model.train()
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
    return run


def table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A right-aligned text table; floats with 3 decimals below 10, else 1."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)
    cells = [list(map(str, headers))] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([lines[0], "-" * len(lines[0])] + lines[1:])


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    """PASS if ``value`` meets ``target`` (<=, or >= if ``higher_is_better``), else MISS."""
    return "PASS" if (value >= target if higher_is_better else value <= target) else "MISS"


# ------------------------------------------------------------------------------------ sections
def slimmable_vs_static(mode: Mode) -> Dict:
    """Section 1: per width, median ms of the slimmable model at that width and of its extracted
    static model, forward (eval, no grad) and forward + backward (train) on the same full clip."""
    cfg = load(mode.slim)
    torch.manual_seed(0)
    model = build_model(cfg)
    space = SubnetSpace(cfg)
    x = space.dummy_input(space.full, mode.slim_batch)
    rows = []
    for w in WIDTHS:
        static = with_slim_kernels(extract_subnet(model, w))
        with at_width(model, w):  # forwards apart from the training runs, whose traffic evicts their caches
            ms = interleaved_ms({"slim_fwd": inference(model, x), "static_fwd": inference(static, x)},
                                FORWARD_REPEATS * mode.repeats, warmup=2)
            ms.update(interleaved_ms({"slim_fwd_bwd": training(model, x), "static_fwd_bwd": training(static, x)},
                                     TRAIN_REPEATS * mode.repeats))
        rows.append({"width": w, **{f"{k}_ms": v for k, v in ms.items()},
                     "forward_ratio": ms["slim_fwd"] / ms["static_fwd"],
                     "forward_backward_ratio": ms["slim_fwd_bwd"] / ms["static_fwd_bwd"]})
    target = f"<= {SLIM_TARGET}"
    print(table(["width", "slim fwd ms", "static fwd ms", "fwd ratio", target, "slim f+b ms", "static f+b ms",
                 "f+b ratio", target],
                [[r["width"], r["slim_fwd_ms"], r["static_fwd_ms"], r["forward_ratio"],
                  verdict(r["forward_ratio"], SLIM_TARGET), r["slim_fwd_bwd_ms"], r["static_fwd_bwd_ms"],
                  r["forward_backward_ratio"], verdict(r["forward_backward_ratio"], SLIM_TARGET)] for r in rows]))
    return {**describe(mode.slim, cfg, mode.slim_batch), "target": SLIM_TARGET, "rows": rows,
            "worst_forward_ratio": max(r["forward_ratio"] for r in rows),
            "worst_forward_backward_ratio": max(r["forward_backward_ratio"] for r in rows)}


def train_step(mode: Mode) -> Dict:
    """Section 2: ``bench_train_step.measure_train_step`` on the mode's config."""
    torch.manual_seed(0)
    cfg = load_config(os.path.join(ROOT, mode.step_cfg))
    result = {"cfg": mode.step_cfg, **measure_train_step(cfg, mode.step_batch, repeats=mode.repeats)}
    print_train_step(result)
    return result


def loader(mode: Mode) -> Dict:
    """Section 3: ``bench_loader.measure_loader``; ``ratio`` = ours (PyAV) / baseline clips/s at the
    worst worker count."""
    result = measure_loader(**mode.loader)
    print_loader_table(result)
    return {**result, "target": LOADER_TARGET, "ratio": min(row["speedup_pyav"] for row in result["rows"])}


def loader_vs_raw(mode: Mode) -> Dict:
    """Section 3b: ``bench_loader.measure_loader_vs_raw``; ``ratios`` per codec, loader / raw clips/s."""
    result = measure_loader_vs_raw(**mode.loader_vs_raw)
    ratios = {codec: row["ratio"] for codec, row in result["rows"].items()}
    return {**result, "target": LOADER_VS_RAW_TARGET, "ratios": ratios, "worst": min(ratios.values())}


def ort_session(path: str):
    """An ONNX Runtime CPU session using as many threads as torch."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def export_latency(mode: Mode) -> Dict:
    """Section 4: per width, export the static model to TorchScript and ONNX (each verified against
    eager: ``max_abs_diff``), then median ms of eager / TorchScript / ONNX Runtime per batch size."""
    cfg = load(mode.export)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    space = SubnetSpace(cfg)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for w in mode.export_widths:
            static = extract_subnet(model, w).eval()
            example = space.dummy_input(space.full, 2)
            ts_path, onnx_path = os.path.join(folder, f"w{w}.pt"), os.path.join(folder, f"w{w}.onnx")
            diff = {"torchscript": export_torchscript(static, example, ts_path),
                    "onnx": export_onnx(static, example, onnx_path, cfg.EXPORT.ONNX_OPSET)}
            scripted, session = torch.jit.load(ts_path), ort_session(onnx_path)
            for batch in mode.export_batches:
                x = space.dummy_input(space.full, batch)
                feeds = dict(zip(input_names(x), [t.numpy() for t in (x if isinstance(x, list) else [x])]))
                ms = interleaved_ms({"eager": inference(static, x), "torchscript": inference(scripted, x),
                                     "onnxruntime": lambda: session.run(None, feeds)}, mode.repeats, warmup=2)
                rows.append({"width": w, "batch": batch, **{f"{k}_ms": v for k, v in ms.items()},
                             "torchscript_speedup": ms["eager"] / ms["torchscript"],
                             "onnxruntime_speedup": ms["eager"] / ms["onnxruntime"], "max_abs_diff": diff})
    print(table(["width", "batch", "eager ms", "torchscript ms", "onnxruntime ms", "eager/ts", "eager/ort"],
                [[r["width"], r["batch"], r["eager_ms"], r["torchscript_ms"], r["onnxruntime_ms"],
                  r["torchscript_speedup"], r["onnxruntime_speedup"]] for r in rows]))
    return {**describe(mode.export, cfg, 1), "batches": list(mode.export_batches), "rows": rows}


def compiled_forward(model: torch.nn.Module, x) -> Tuple[Optional[Callable], str]:
    """``(run, "ok")`` for ``torch.compile(model, dynamic=False)`` after its first (compiling) call,
    or ``(None, "failed: ...")`` if compiling or running it raises.

    Static shapes: SlowFast runs the same stage code on both pathways at different sizes, so the
    default (automatic dynamic shapes) recompiles it with symbolic sizes, and inductor (torch 2.13)
    then fails to lower a strided conv (``ValueRangeError: Invalid ranges [0:-1]``)."""
    try:
        run = inference(torch.compile(model, dynamic=False), x)
        run()
        return run, "ok"
    except Exception as e:  # noqa: BLE001 - any compiler failure is a result to report
        return None, f"failed: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"


def model_throughput(spec: Model, mode: Mode, compile: bool) -> Dict:
    """Median ms and GFLOP/s of one forward of ``spec``'s static full-width model per variant, and of
    an ``n x n`` fp32 matmul in the same rounds; ``fraction_of_matmul`` = model rate / matmul rate."""
    cfg = load(spec)
    torch.manual_seed(0)
    static = extract_subnet(build_model(cfg), 1.0).eval()
    space = SubnetSpace(cfg)
    gflop = count_gflops(static, space.dummy_input(space.full, 1)) * mode.flops_batch
    x = space.dummy_input(space.full, mode.flops_batch)
    n = mode.matmul_size
    a, b = torch.randn(n, n), torch.randn(n, n)
    runs = {"matmul": lambda: torch.mm(a, b), "eager": inference(static, x),
            "channels_last_3d": inference(copy.deepcopy(static).to(memory_format=torch.channels_last_3d),
                                          to_channels_last(x))}
    compile_status = "skipped"
    if compile:
        start = time.perf_counter()
        runs["compile"], compile_status = compiled_forward(static, x)
        compile_status += f" (after {time.perf_counter() - start:.0f} s)"
    ms = interleaved_ms({k: v for k, v in runs.items() if v is not None}, mode.repeats, warmup=2)
    matmul_rate = n ** 3 / ms.pop("matmul") / 1e6  # multiply-adds / s, in G
    variants = {k: {"ms": t, "gflop_per_s": gflop / t * 1e3, "fraction_of_matmul": gflop / t * 1e3 / matmul_rate}
                for k, t in ms.items()}
    return {**describe(spec, cfg, mode.flops_batch), "gflop_per_forward": gflop, "matmul_size": n,
            "matmul_gflop_per_s": matmul_rate, "compile": compile_status, "variants": variants}


def achieved_gflops(mode: Mode, compile: bool) -> Dict:
    """Section 5: ``model_throughput`` for each model of the mode."""
    models = {spec.name: model_throughput(spec, mode, compile) for spec in mode.flops_models}
    rows = [[name, "x".join(map(str, m["input_shapes"][-1][2:])), m["gflop_per_forward"], variant, v["ms"],
             v["gflop_per_s"], m["matmul_gflop_per_s"], v["fraction_of_matmul"]]
            for name, m in models.items() for variant, v in m["variants"].items()]
    print(table(["model", "TxHxW", "GFLOP", "variant", "ms", "GFLOP/s", "matmul GFLOP/s", "fraction"], rows))
    for name, m in models.items():
        print(f"  {name} torch.compile: {m['compile']}")
    return {"flop_convention": "fvcore: one multiply-add = one flop; the matmul counts n^3", "models": models}


def peak_memory_worker(spec: Model, configs: List[SubnetConfig], batch: int, threads: int) -> List[float]:
    """Peak memory, in MiB, of one training step (forward + backward, fresh grads) of each config, as
    ``MEMORY_METHOD`` says; to run in a fresh process (it changes malloc's settings)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD; fixing it also stops glibc from raising it
    torch.set_num_threads(threads)
    cfg = load(spec)
    model = build_model(cfg)
    peaks = []
    for sub in [configs[0], *configs]:  # the first run only warms up (one-time allocations)
        step = training(model, SubnetSpace(cfg).dummy_input(sub, batch))
        model.zero_grad(set_to_none=True)
        gc.collect()
        libc.malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current VmRSS
        before = status_bytes("VmRSS")
        step()
        peaks.append((status_bytes("VmHWM") - before) / 2 ** 20)
    return peaks[1:]


def scaling(mode: Mode) -> Dict:
    """Section 6: median ms and peak memory (``peak_memory_worker``) of a training step per frames x
    crop, each as a multiple of the smallest config's, next to the multiple of frames x crop^2."""
    cfg = load(mode.scaling)
    torch.manual_seed(0)
    model = build_model(cfg)
    configs = [SubnetConfig(1.0, c, t) for t in sorted(mode.scaling_frames) for c in sorted(mode.scaling_crops)]
    ms = interleaved_ms({sub: training(model, SubnetSpace(cfg).dummy_input(sub, mode.scaling_batch)) for sub in configs},
                        mode.repeats)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        mib = pool.apply(peak_memory_worker, (mode.scaling, configs, mode.scaling_batch, torch.get_num_threads()))
    base = configs[0]
    rows = [{"frames": s.frames, "crop": s.crop, "ms": ms[s], "peak_mib": m,
             "size_ratio": s.frames * s.crop ** 2 / (base.frames * base.crop ** 2),
             "time_ratio": ms[s] / ms[base], "memory_ratio": m / mib[0]} for s, m in zip(configs, mib)]
    print(table(["frames", "crop", "ms", "peak MiB", "T*C^2 x", "time x", "memory x"],
                [[r["frames"], r["crop"], r["ms"], r["peak_mib"], r["size_ratio"], r["time_ratio"],
                  r["memory_ratio"]] for r in rows]))
    return {**describe(mode.scaling, cfg, mode.scaling_batch), "step": "forward + backward, train mode",
            "memory": MEMORY_METHOD, "rows": rows}


# ---------------------------------------------------------------------------------------- main
def checks(result: Dict) -> List[Dict]:
    """The four targets, each with its value and PASS / MISS."""
    specs = [("slim_overhead", "slimmable / static forward, worst width", "<=", SLIM_TARGET),
             ("step_ratio", "mutual step / sum of static steps", "<=", STEP_TARGET),
             ("loader_ratio", "loader clips/s, ours (PyAV) / pytorchvideo", ">=", LOADER_TARGET),
             ("loader_vs_raw_worst", "train loader / plain PyAV decode clips/s, worst codec", ">=",
              LOADER_VS_RAW_TARGET)]
    return [{"key": key, "what": what, "value": result[key], "target": f"{op} {target}",
             "result": verdict(result[key], target, higher_is_better=op == ">=")} for key, what, op, target in specs]


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="tiny sizes, under a minute (for tests)")
    group.add_argument("--full", action="store_true", help="published input sizes, more repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see the module docstring)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile in section 5")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    name = "smoke" if args.smoke else "full" if args.full else "quick"
    mode = MODES[name]
    sections = [("slimmable_vs_static", lambda: slimmable_vs_static(mode)), ("train_step", lambda: train_step(mode)),
                ("loader", lambda: loader(mode)), ("loader_vs_raw_detail", lambda: loader_vs_raw(mode)),
                ("export_latency", lambda: export_latency(mode)),
                ("achieved_gflops", lambda: achieved_gflops(mode, mode.compile and not args.no_compile)),
                ("scaling", lambda: scaling(mode))]
    result, seconds, start = {"mode": name, "machine": machine_record()}, {}, time.perf_counter()
    for i, (key, run) in enumerate(sections, 1):
        print(f"\n== {i}. {key} ({name} mode)", flush=True)
        section_start = time.perf_counter()
        result[key] = run()
        seconds[key] = time.perf_counter() - section_start
    result.update(slim_overhead=result["slimmable_vs_static"]["worst_forward_ratio"],
                  step_ratio=result["train_step"]["ratio"], loader_ratio=result["loader"]["ratio"],
                  loader_vs_raw=result["loader_vs_raw_detail"]["ratios"],
                  loader_vs_raw_worst=result["loader_vs_raw_detail"]["worst"],
                  section_seconds=seconds, total_seconds=time.perf_counter() - start)
    result["checks"] = checks(result)
    print(f"\n== summary ({name} mode, {result['total_seconds']:.0f} s, {args.threads} torch thread(s))")
    print(table(["check", "value", "target", "result"],
                [[c["what"], c["value"], c["target"], c["result"]] for c in result["checks"]]))
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
