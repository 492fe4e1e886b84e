#!/usr/bin/env python3
"""The paper's central claims, checked at a scale that runs on a few CPU cores (issue #12's protocol).

    python experiments/reproduce_synthetic.py [--seeds 0 1 2 3 4] [--lrs 0.01 0.03 0.1] [--extend 2] [--epochs N] \\
        [--sweep-from SWEEP_JSON] \\
        [--methods mutualnet mutualnet_wc mutualnet_wt mutualnet_labels sandwich static] [--out output/reproduce] [--docs docs] \\
        [--static-configs w0.50-c24-t4,w1.00-c32-t8] [--views 3] [--jobs N] [--threads 1] [--opts KEY VALUE ...]

From ``configs/demo/X3D_DEMO.yaml`` (a tiny X3D on the synthetic object x direction data, made here with
``data_prep.make_synthetic`` when its folder is missing), with ``tools/run_net.py`` as a subprocess:

1. **Sweep** (``OUT/sweep/<run>-lr<LR>``, seed 0, training only, so no test number exists yet): every
   method of ``protocol.SWEPT`` at every ``--lrs`` value. While a method's best rate is the smallest
   or the largest it tried, it trains one more rate beyond it (the grid's step; at most ``--extend``
   per end; a training that diverges scores worst). Per method the rate with the best mean
   single-view val top-1 over the validated configs (full and smallest) at the last val_epoch is
   chosen (ties: the smaller rate) and written to ``OUT/sweep.json``, which is then fixed.
   With ``--sweep-from`` a finished sweep's record fixes the rates instead (it must have been made
   with the same epochs, data generator and static config); seed 0's runs are then trained anew.
   ``experiments/sweep_x3d_demo_64ep.json`` is the record of the demo config's sweep.
2. **Seeds** (``OUT/seed<S>/<run>``): per seed every method of ``protocol.METHODS`` at its chosen rate;
   each run trains and evaluates the grid on the test videos (run_net's own TEST), then a second
   run_net call evaluates the grid on the val videos (TEST.SPLIT val, ``<run>/val``) from the run's
   last checkpoint, reusing the BN statistics the test grid calibrated. Both grids test ``--views``
   clips spread over each video (TEST.NUM_ENSEMBLE_VIEWS); training and its validation see one. Seed 0's run of a swept
   method is its sweep run at the chosen rate (only its test grid is added).
3. **Analysis and report**: ``OUT/summary.json`` (every number), ``OUT/sweep.json``, the generated
   section of ``DOCS/RESULTS.md`` and its plots (``experiments/analysis.py``, ``stats.py``, ``report.py``).

Size of the default protocol (6 methods, 2 static configs, 3 rates, 5 seeds): 9 sweep trainings
(training only; up to ``--extend`` more per swept method, past the end of the grid that was best),
35 seed runs (7 per seed; 3 of seed 0's are sweep runs, so 32 more trainings with their test grid
and 3 test grids alone) and 35 val grids: 79 run_net calls and the sweep's extensions.
``--methods`` runs a subset (mutualnet and at least one other); the analysis and report then cover
what ran.

Calls run ``--jobs`` at a time (default: one per CPU core), each run_net with ``--threads`` torch
threads (default 1; the numbers depend on it, not on ``--jobs``). ``OUT/invocations.json`` keeps the
wall time, settings and machine of every invocation, interrupted ones too.

Resume: finished calls are skipped (``experiments/runner.py``); delete a run's folder to redo it.
A finished call is known by its records (driver record, json stats, curve), not by its weights, so a
copy of OUT without checkpoints resumes too: ``experiments/runs`` (git keeps everything but the
weights) is the project's own reproduction, made by

    python experiments/reproduce_synthetic.py --out experiments/runs --sweep-from experiments/sweep_x3d_demo_64ep.json

Ctrl-C or SIGTERM stops the running calls, which resume from their last checkpoint. Once the seeds are
planned, the line of each call that starts ends with the time left, estimated from the finished calls of
the same stage and run (``experiments/progress.py``).
"""
import argparse
import dataclasses
import datetime
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from data_prep.common import read_json, write_json  # noqa: E402
from data_prep.make_synthetic import GENERATOR_VERSION  # noqa: E402
from experiments import protocol, report, stats  # noqa: E402
from experiments.analysis import analyse  # noqa: E402
from experiments.progress import Progress  # noqa: E402
from experiments.protocol import Run  # noqa: E402
from experiments.results import (TRAIN_PASS_FACTOR, FlopsTable, class_names, curve,  # noqa: E402
                                 factor_accuracy, sweep_score, train_history, training_cost, val_history)
from experiments.runner import STAGES, Call, execute, run_all, stage_opts  # noqa: E402
from mutualnet_video.config import SubnetConfig, load_config  # noqa: E402
from mutualnet_video.budget import BankStore  # noqa: E402
from mutualnet_video.utils.checkpoint import checkpoint_path  # noqa: E402
from mutualnet_video.utils.machine import machine_record  # noqa: E402

BASE_CFG = os.path.join(ROOT, "configs", "demo", "X3D_DEMO.yaml")
SWEEP_JSON = "sweep.json"
SUMMARY_JSON = "summary.json"
INVOCATIONS_JSON = "invocations.json"
SWEEP_CRITERION = ("mean single-view val top-1 over the configs the trainer validates (full and smallest) "
                   "at the last val_epoch record; ties: the smaller rate")


# ------------------------------------------------------------------------------ set-up
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The driver's command line (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="RNG_SEED of each repetition")
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.01, 0.03, 0.1],
                        help="SOLVER.BASE_LR values of the sweep (seed 0, on val); the default brackets the "
                             "demo recipe's 0.03 by a factor of about 3 on each side")
    parser.add_argument("--extend", type=int, default=2,
                        help="while a method's best sweep rate is the smallest or largest it tried, train one more "
                             "beyond it by the --lrs grid's step, at most this many per end (0: the grid only)")
    parser.add_argument("--sweep-from", default=None, metavar="SWEEP_JSON",
                        help="take each method's learning rate from a finished sweep's record (its sweep.json, made "
                             "with the same epochs and data) instead of running the sweep; seed 0's runs are then "
                             "trained in their seed folders")
    parser.add_argument("--methods", nargs="+", default=list(protocol.METHODS),
                        help="the methods to run (default: all; mutualnet and at least one other)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="SOLVER.MAX_EPOCH of every run (default: the config's)")
    parser.add_argument("--out", default=os.path.join("output", "reproduce"), help="runs, sweep.json, summary.json")
    parser.add_argument("--docs", default="docs", help="where RESULTS.md and the plots go")
    parser.add_argument("--static-configs", type=_config_list, default=None,
                        help="comma-separated grid configs of the static baselines, e.g. w0.50-c24-t4,w1.00-c32-t8 "
                             "(default: the cheapest by GFLOPs and the full one)")
    parser.add_argument("--views", type=int, default=3,
                        help="TEST.NUM_ENSEMBLE_VIEWS of every test and val grid: clips spread over each video, "
                             "their scores averaged (default 3)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="run_net calls at a time (default: one per CPU core this process may use)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of each run_net call; results depend on it, so a folder made with "
                             "another count is refused (default 1: on a small CPU one thread per call and one "
                             "call per core is the fastest)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for every run")
    args = parser.parse_args(argv)
    if min(args.jobs, args.threads, args.views) < 1:
        parser.error("--jobs, --threads and --views must be at least 1")
    if args.extend < 0:
        parser.error("--extend must be 0 or more")
    if protocol.SWEEP_SEED not in args.seeds:
        parser.error(f"--seeds must include the sweep's seed {protocol.SWEEP_SEED}")
    if args.sweep_from and not os.path.isfile(args.sweep_from):
        parser.error(f"--sweep-from: no file {args.sweep_from}")
    if len(set(args.lrs)) != len(args.lrs) or len(set(args.seeds)) != len(args.seeds):
        parser.error("--lrs and --seeds must not repeat a value")
    args.methods = protocol.check_methods(args.methods)
    return args


def _config_list(text: str) -> List[SubnetConfig]:
    """``w0.50-c32-t4,w1.00-c32-t8`` -> configs."""
    try:
        return [SubnetConfig.parse(name) for name in text.split(",") if name.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def common_opts(args: argparse.Namespace) -> List[str]:
    """The overrides every run gets: the user's, then the epochs."""
    return list(args.opts) + ([] if args.epochs is None else ["SOLVER.MAX_EPOCH", str(args.epochs)])


def load_cfg(opts: Sequence[str]):
    """The base config with ``opts`` applied, validated (what run_net loads for these opts)."""
    return load_config([BASE_CFG], opts)


def ensure_data(cfg) -> Dict:
    """Make the synthetic data set if DATA.PATH_TO_DATA_DIR has none; its settings (or {})."""
    root = cfg.DATA.PATH_TO_DATA_DIR
    if not os.path.isfile(os.path.join(root, "train.csv")):
        print(f"making the synthetic data set in {root}", flush=True)
        subprocess.run([sys.executable, "-m", "data_prep.make_synthetic", "--out", os.path.abspath(root),
                        "--jobs", "2"], cwd=ROOT, check=True)
    path = os.path.join(root, "synthetic.json")
    settings = read_json(path).get("settings", {}) if os.path.isfile(path) else {}
    if settings and settings.get("version") != GENERATOR_VERSION:
        print(f"WARNING: {root} was made by synthetic generator version {settings.get('version')}, the current "
              f"one is {GENERATOR_VERSION}: remake it (python -m data_prep.make_synthetic --out {root} --overwrite)",
              flush=True)
    return settings


def machine() -> str:
    """CPU model, core count, OS, Python and PyTorch versions, and the load average at the start."""
    m = machine_record()
    load = "" if m["load_average"] is None else f", load average {m['load_average'][0]:.1f} at the start"
    return f"{m['cpu']}, {m['cores']} CPU cores, {m['platform']}, Python {m['python']}, PyTorch {m['torch']}{load}"


# ------------------------------------------------------------------------------ calls
class Plan:
    """The calls of the whole protocol, numbered ``[i/N]`` in the order they run."""

    def __init__(self, args: argparse.Namespace, reference, sweep: Sequence[Run], seeds_runs: int):
        self.args, self.reference, self.sweep = args, reference, list(sweep)
        # sweep: train; seed run: train+test (or test), val
        self.progress = Progress(args.jobs, len(self.sweep) + 2 * seeds_runs)
        self.progress.plan([("train", run.name) for run in self.sweep])
        self._lock = threading.Lock()  # calls run in several threads (run_all)

    def plan_seeds(self, runs: Sequence[Run]) -> None:
        """The seed runs, once the sweep chose their learning rates (the time left is estimated from then)."""
        with self._lock:
            self.progress.plan([kind for run in runs for kind in
                                (("test" if protocol.reuses_sweep(run, self.sweep) else "train+test", run.name),
                                 ("val", run.name))])

    def call(self, stage: str, run: Run, output_dir: str, extra: Sequence[str] = (), prepare=None,
             may_diverge: bool = False) -> Call:
        opts = common_opts(self.args) + protocol.method_opts(self.reference, run) + list(extra)
        if STAGES[stage][1]:  # a grid evaluation
            opts += ["TEST.NUM_ENSEMBLE_VIEWS", str(self.args.views)]
        label = f"{stage} {run.name} seed {run.seed} lr {run.lr:g}"
        return Call(stage, label, output_dir, BASE_CFG, tuple(opts + stage_opts(stage, output_dir)),
                    self.args.threads, prepare, may_diverge)

    def sweep_call(self, run: Run) -> Call:
        """A sweep run's training (it may diverge: a rate too large is a result)."""
        return self.call("train", run, run.sweep_dir(self.args.out), may_diverge=True)

    def add_sweep(self, run: Run) -> None:
        """A rate beyond the grid (``protocol.next_sweep_rate``) joins the sweep."""
        with self._lock:
            self.sweep.append(run)
            self.progress.plan([("train", run.name)], added=True)

    def sweep_of(self, method: str) -> List[Run]:
        """``method``'s sweep runs so far, by rate."""
        with self._lock:
            return sorted((r for r in self.sweep if r.method == method), key=lambda r: r.lr)

    def scores(self, method: str) -> Dict[float, Optional[float]]:
        """``method``'s sweep score per rate trained so far, by rate (None: diverged)."""
        return {r.lr: sweep_score(r.sweep_dir(self.args.out)) for r in self.sweep_of(method)}

    def execute(self, call: Call, run: Run) -> Dict:
        """Run ``run``'s ``call`` (or skip it when its record says finished), numbered and timed."""
        with self._lock:
            progress = self.progress.start()
        record = execute(call, load_cfg, progress, self._time_left)
        with self._lock:
            self.progress.end((call.stage, run.name), record)
        return record

    def _time_left(self) -> str:
        with self._lock:
            left = self.progress.left()
        return "" if left is None else f" ({left})"


def run_dir(run: Run, sweep: Sequence[Run], out: str) -> str:
    """Where ``run`` trains: its sweep folder when the sweep trained it, else its seed folder."""
    return run.sweep_dir(out) if protocol.reuses_sweep(run, sweep) else run.seed_dir(out)


def run_sweep(plan: Plan) -> None:
    """Train every sweep run (no test evaluation), ``--jobs`` at a time; then each method, in
    parallel, its rates beyond the grid (``extend_sweep``)."""
    run_all([partial(plan.execute, plan.sweep_call(run), run) for run in plan.sweep], plan.args.jobs)
    run_all([partial(extend_sweep, plan, method) for method in protocol.swept(plan.args.methods)], plan.args.jobs)


def extend_sweep(plan: Plan, method: str) -> None:
    """Train ``method`` at the next rate beyond the grid while its best rate is at an end of those
    it tried (``protocol.next_sweep_rate``, at most ``--extend`` per end)."""
    template = plan.sweep_of(method)[0]
    while True:
        lr = protocol.next_sweep_rate(plan.args.lrs, plan.scores(method), plan.args.extend)
        if lr is None:
            return
        run = dataclasses.replace(template, lr=lr)
        plan.add_sweep(run)
        plan.execute(plan.sweep_call(run), run)


def choose_lrs(plan: Plan, static_config: Optional[SubnetConfig]) -> Dict:
    """The sweep's choice per method (``OUT/sweep.json``, ``fix_sweep``)."""
    methods = {}
    for method in protocol.swept(plan.args.methods):
        scores = plan.scores(method)
        methods[method] = {"scores": {f"{lr:g}": score for lr, score in scores.items()},
                           "chosen": protocol.best_rate(scores),
                           "run_dirs": {f"{r.lr:g}": r.sweep_dir(plan.args.out) for r in plan.sweep_of(method)}}
    sweep = {"seed": protocol.SWEEP_SEED, "lrs": list(plan.args.lrs), "extend": plan.args.extend,
             "epochs": plan.reference.SOLVER.MAX_EPOCH, "data_version": GENERATOR_VERSION,
             "criterion": SWEEP_CRITERION,
             "static_config": static_config and str(static_config), "methods": methods,
             "lr_of_method": protocol.lr_of_method(methods, plan.args.methods)}
    return fix_sweep(plan.args.out, sweep)


def adopt_sweep(args: argparse.Namespace, reference, static_config: Optional[SubnetConfig]) -> Dict:
    """The learning rates of the finished sweep recorded in ``--sweep-from``, checked against this
    protocol (same epochs, data generator, static config; every swept method present), fixed in
    ``OUT/sweep.json`` with where they came from."""
    sweep = read_json(args.sweep_from)
    expected = {"epochs": reference.SOLVER.MAX_EPOCH, "data_version": GENERATOR_VERSION}
    if static_config is not None:
        expected["static_config"] = str(static_config)
    wrong = [f"{key} {sweep.get(key)!r} (here {value!r})" for key, value in expected.items() if sweep.get(key) != value]
    missing = [m for m in protocol.swept(args.methods) if m not in sweep.get("methods", {})]
    if wrong or missing:
        raise SystemExit(f"--sweep-from {args.sweep_from} does not fit this protocol: "
                         + "; ".join(wrong + [f"no sweep of {m}" for m in missing]))
    sweep = {**sweep, "adopted_from": args.sweep_from,
             "lr_of_method": protocol.lr_of_method(sweep["methods"], args.methods)}
    return fix_sweep(args.out, sweep)


def fix_sweep(out: str, sweep: Dict) -> Dict:
    """Write ``sweep`` to ``OUT/sweep.json`` unless one is there; once written it is fixed: a later
    invocation must find the same rate for every method both know, else it stops. A method the fixed
    record lacks (run now for the first time) is added with its rate. The fixed record."""
    path = os.path.join(out, SWEEP_JSON)
    if not os.path.isfile(path):
        write_json(path, sweep)
        print(f"sweep: chose {sweep['lr_of_method']} (written to {path})", flush=True)
        return sweep
    fixed = read_json(path)
    rates, fixed_rates = sweep["lr_of_method"], fixed["lr_of_method"]
    if any(rates[m] != fixed_rates[m] for m in rates.keys() & fixed_rates.keys()) or \
            any(fixed.get(key) != sweep[key] for key in ("lrs", "extend")):
        raise SystemExit(f"{path} fixed the learning rates {fixed_rates} over {fixed['lrs']} (--extend "
                         f"{fixed.get('extend', 0)}); the sweep now gives {rates} over {sweep['lrs']} "
                         f"(--extend {sweep['extend']}): use another --out")
    added = {m: rate for m, rate in rates.items() if m not in fixed_rates}
    if added:
        fixed["lr_of_method"] = {**fixed_rates, **added}
        write_json(path, fixed)
        print(f"sweep: {path} adds the rates {added}", flush=True)
    return fixed


def share_bn_bank(test_cfg, val_cfg, checkpoint: str) -> None:
    """Give the val grid the BN statistics the test grid calibrated for ``checkpoint`` (the same
    model on both splits, and no second calibration), replacing any the val grid had."""
    bank = BankStore(test_cfg, checkpoint).bank
    if len(bank):
        target = BankStore(val_cfg, checkpoint)
        target.bank = bank
        target.save()


def run_seed(plan: Plan, run: Run, names: Sequence[str]) -> Dict:
    """Train (or reuse the sweep's training), the test grid, the val grid; the run's result
    (``names``: the class names, for the errors per factor)."""
    directory = run_dir(run, plan.sweep, plan.args.out)
    reused = protocol.reuses_sweep(run, plan.sweep)
    test_call = plan.call("test" if reused else "train+test", run, directory)
    records = [plan.execute(test_call, run)]
    train_call = plan.call("train", run, directory) if reused else test_call
    if reused:
        records.append(train_call.record())
    test_cfg = load_cfg(list(test_call.opts))  # the same SOLVER as the training call's
    checkpoint = checkpoint_path(directory, test_cfg.SOLVER.MAX_EPOCH)  # the val grid's weights, by name: a
    val_dir = os.path.join(directory, "val")  # finished val grid is kept when checkpoints are not (OUT's records)

    def prepare_val():
        if not os.path.isfile(checkpoint):
            raise SystemExit(f"{checkpoint} is missing, and the val grid needs it: delete {directory} to train it again")
        share_bn_bank(test_cfg, load_cfg(list(val.opts)), checkpoint)

    val = plan.call("val", run, val_dir, ["TEST.CHECKPOINT_FILE_PATH", checkpoint], prepare=prepare_val)
    records.append(plan.execute(val, run))
    return run_result(run, directory, val_dir, train_call, records, reused, names)


_cost_lock = threading.Lock()  # one training-cost replay at a time (it traces models for their FLOPs)


def run_result(run: Run, directory: str, val_dir: str, train_call: Call, records: List[Dict], reused: bool,
               names: Sequence[str]) -> Dict:
    """Everything the summary keeps of a run; the training cost is computed once and kept in the
    record of the call that trained."""
    record = train_call.record()
    if "cost" not in record:
        with _cost_lock:
            record["cost"] = training_cost(load_cfg(list(train_call.opts)))
        write_json(train_call.record_path, record)
    return {"run": run.name, "method": run.method, "seed": run.seed, "lr": run.lr,
            "config": None if run.config is None else str(run.config), "output_dir": directory,
            "reused_sweep_run": reused, "wall_s": sum(r["wall_s"] for r in records), **record["cost"],
            "test": curve(directory), "val": curve(val_dir), "test_factors": factor_accuracy(directory, names),
            "val_history": val_history(directory),
            "train_history": train_history(directory)}


def calls_wall_s(out: str) -> float:
    """The wall time of every run_net call under OUT, over all invocations (their records)."""
    total = 0.0
    for folder, _, files in os.walk(out):
        total += sum(read_json(os.path.join(folder, f))["wall_s"] for f in files
                     if f.startswith("driver-") and f.endswith(".json"))
    return total


# ------------------------------------------------------------------------------ main
def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # as Ctrl-C would: run_all stops the calls, the records get their time


def read_invocations(out: str) -> List[Dict]:
    """Every earlier invocation of the driver on OUT (``OUT/invocations.json``)."""
    path = os.path.join(out, INVOCATIONS_JSON)
    return read_json(path) if os.path.isfile(path) else []


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Run (or resume) the whole protocol and write the summary and the report. The invocation,
    finished, failed or stopped, is added to ``OUT/invocations.json``."""
    start = time.time()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    invocation = {"start": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "wall_s": 0.0,
                  "jobs": args.jobs, "threads": args.threads, "machine": machine(), "outcome": "stopped"}
    earlier = read_invocations(args.out)
    previous_handler = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return reproduce(args, argv, earlier + [invocation], start)
    except BaseException as e:
        invocation["outcome"] = _outcome(e)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        invocation["wall_s"] = time.time() - start
        os.makedirs(args.out, exist_ok=True)
        write_json(os.path.join(args.out, INVOCATIONS_JSON), earlier + [invocation])


def _outcome(error: BaseException) -> str:
    """``stopped`` (Ctrl-C, SIGTERM) or ``failed: <the message's first line>``."""
    if isinstance(error, KeyboardInterrupt) or (isinstance(error, SystemExit) and isinstance(error.code, int)):
        return "stopped"
    message = str(error.code) if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
    return "failed: " + (message.splitlines() or [""])[0]


def reproduce(args: argparse.Namespace, argv: Sequence[str], invocations: List[Dict], start: float) -> Dict:
    """The protocol (module doc); ``invocations``: every invocation on OUT, this one last."""
    reference = load_cfg(common_opts(args))
    if reference.MODEL.ARCH == "slowfast":
        raise SystemExit("the static baselines assume a single-pathway model (x3d or slow)")
    data = ensure_data(reference)
    flops = FlopsTable(reference)
    static_configs, static_sweep = [], None
    if "static" in args.methods:
        static_configs = protocol.choose_static_configs(args.static_configs, reference, flops)
        static_sweep = protocol.sweep_static_config(static_configs, flops)
    sweep_plan = [] if args.sweep_from else protocol.sweep_runs(args.lrs, static_sweep, args.methods)
    num_seed_runs = len(args.seeds) * sum(len(static_configs) if m == "static" else 1 for m in args.methods)
    plan = Plan(args, reference, sweep_plan, num_seed_runs)
    print(f"{len(sweep_plan)} sweep runs, {num_seed_runs} seed runs ({plan.progress.total} run_net calls)", flush=True)
    if args.sweep_from:
        sweep = adopt_sweep(args, reference, static_sweep)
    else:
        run_sweep(plan)
        sweep = choose_lrs(plan, static_sweep)
    seed_runs = protocol.seed_runs(args.seeds, sweep["lr_of_method"], static_configs, args.methods)
    plan.plan_seeds(seed_runs)
    names = class_names(reference.DATA.PATH_TO_DATA_DIR)
    results = run_all([partial(run_seed, plan, run, names) for run in seed_runs], args.jobs)
    summary = {
        "command": "python experiments/reproduce_synthetic.py " + shlex.join(argv),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": invocations[-1]["machine"], "out": args.out, "base_config": os.path.relpath(BASE_CFG, ROOT),
        "methods": args.methods, "seeds": list(args.seeds), "lrs": list(args.lrs),
        "epochs": reference.SOLVER.MAX_EPOCH,
        "views": args.views * reference.TEST.NUM_SPATIAL_CROPS,
        "data_dir": reference.DATA.PATH_TO_DATA_DIR, "data": data, "num_classes": reference.MODEL.NUM_CLASSES,
        "num_test_videos": results[0]["test"][0]["num_videos"], "num_val_videos": results[0]["val"][0]["num_videos"],
        "static_configs": [str(c) for c in static_configs], "sweep": sweep,
        "bootstrap": {"resamples": stats.RESAMPLES, "level": stats.LEVEL, "seed": stats.BOOTSTRAP_SEED,
                      "min_seeds": stats.MIN_SEEDS},
        "train_pass_factor": TRAIN_PASS_FACTOR, "runs": results,
        "analysis": analyse(results, [str(c) for c in static_configs]),
        "calls_wall_s": calls_wall_s(args.out), "jobs": args.jobs, "threads": args.threads,
    }
    invocations[-1].update(outcome="finished", wall_s=time.time() - start)  # main writes it
    summary["driver_wall_s"] = invocations[-1]["wall_s"]
    summary["invocations"] = invocations
    summary["elapsed_s"] = sum(i["wall_s"] for i in invocations)
    write_json(os.path.join(args.out, SUMMARY_JSON), summary)
    written = report.publish(summary, args.out, args.docs)
    print(f"wrote {os.path.join(args.out, SUMMARY_JSON)}, " + ", ".join(written))
    print("\n".join(report.findings(summary)))
    return summary


if __name__ == "__main__":
    main()
