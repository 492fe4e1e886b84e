"""Running ``tools/run_net.py`` as a subprocess (what is measured is what users run), resumably.

A ``Call`` is one run_net invocation with its OUTPUT_DIR. Its record ``driver-<stage>.json`` in
that folder keeps the command, the status and the wall time of all its attempts; a call whose
record says finished and whose outputs are complete is skipped, so an interrupted driver continues
where it stopped (an unfinished run_net resumes from its last checkpoint). A finished training whose
epoch count is no longer the config's SOLVER.MAX_EPOCH stops the driver. A folder holding a call
made with another command, or outputs without any record of this driver, is an error: delete it
or choose another --out.

Every run_net process runs with a fixed number of torch threads (``threads``, 1 by default): the
floating-point results depend on it, so it is part of the record and a finished call made with another
count is refused like another command. Calls run ``jobs`` at a time (``run_all``): on a small CPU, one
thread per call and one call per core trained 1.6-1.8x as many runs per hour as one call on all
cores (measured on 2 cores, issue #12). A driver stopped by Ctrl-C or SIGTERM stops its run_net
processes and records the time of their attempts before it exits.

Stages: ``train`` (training only: the sweep, where no test number may be computed before the
learning rate is chosen), ``train+test`` (training, then run_net's own TEST: the grid on the test
split), ``test`` (the grid on the test split of an already trained run), ``val`` (the grid on the
val split, TEST.SPLIT val, from the run's last checkpoint, in ``<run>/val``).

A call that ``may_diverge`` (a sweep training) and stops on a non-finite loss is a result, not a
failure: its record says ``diverged`` and it is never run again. Any other failed call stops the driver.
"""
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, TypeVar

from data_prep.common import read_json, write_json

from .results import curve_complete, diverged, finished_training, last_epoch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_NET = os.path.join(ROOT, "tools", "run_net.py")
RUN_OUTPUT = "run_net.out"  # per output folder: run_net's stdout and stderr
STAGES = {  # stage: (TRAIN.ENABLE, TEST.ENABLE, TEST.SPLIT)
    "train": (True, False, "test"),
    "train+test": (True, True, "test"),
    "test": (False, True, "test"),
    "val": (False, True, "val"),
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # what torch's intra-op pool reads at start-up
T = TypeVar("T")
_running: Dict[int, subprocess.Popen] = {}  # pid: the run_net processes now running
_running_lock = threading.Lock()
_stopping = threading.Event()  # set by stop_running: no run_net process starts any more


@dataclass(frozen=True)
class Call:
    """One run_net invocation: ``opts`` already hold OUTPUT_DIR and the stage's switches; ``prepare``
    (optional) runs just before each launch, after the record exists; ``may_diverge``: a training
    that stops on a non-finite loss ends the call as ``diverged`` instead of failing it."""

    stage: str
    label: str
    output_dir: str
    base_cfg: str
    opts: tuple
    threads: int = 1
    prepare: Optional[Callable[[], None]] = field(default=None, compare=False)
    may_diverge: bool = False

    @property
    def command(self) -> List[str]:
        """The command as recorded: files of this checkout relative to its root, so that a record (and
        a run folder kept in git) fits any checkout."""
        return [_in_checkout(RUN_NET), "--cfg", _in_checkout(self.base_cfg), "--opts", *self.opts]

    @property
    def launch(self) -> List[str]:
        """The command as run, from any working directory."""
        return [RUN_NET, "--cfg", os.path.abspath(self.base_cfg), "--opts", *self.opts]

    @property
    def record_path(self) -> str:
        return os.path.join(self.output_dir, f"driver-{self.stage}.json")

    def record(self) -> Dict:
        """The call's record (a new one if it never started)."""
        if os.path.isfile(self.record_path):
            return read_json(self.record_path)
        return {"stage": self.stage, "command": self.command, "threads": self.threads, "wall_s": 0.0, "status": "new"}

    def environment(self) -> Dict[str, str]:
        """The driver's environment with the call's torch thread count."""
        return {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(self.threads))}


def _in_checkout(path: str) -> str:
    """``path`` relative to the repository root when it lies inside it, else absolute."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def stage_opts(stage: str, output_dir: str) -> List[str]:
    """OUTPUT_DIR and the TRAIN / TEST switches of ``stage``."""
    train, test, split = STAGES[stage]
    return ["OUTPUT_DIR", output_dir, "TRAIN.ENABLE", str(train), "TEST.ENABLE", str(test), "TEST.SPLIT", split]


def complete(call: Call, cfg) -> bool:
    """The call's outputs (``cfg``: its config) are all there: training reached its last epoch, the
    grid is complete."""
    train, test, _ = STAGES[call.stage]
    return (not train or finished_training(cfg)) and (not test or curve_complete(cfg))


def _foreign(output_dir: str) -> bool:
    """``output_dir`` holds files but no record of any call of this driver (e.g. a run of an older
    driver, whose checkpoints run_net would silently resume)."""
    if not os.path.isdir(output_dir) or not os.listdir(output_dir):
        return False
    return not any(name.startswith("driver-") and name.endswith(".json") for name in os.listdir(output_dir))


def _check_schedule(call: Call, cfg) -> None:
    """A finished training must still be what the config asks: run_net would otherwise resume it
    and train on, on another learning-rate schedule (e.g. after SOLVER.MAX_EPOCH was edited in the
    base config, which the command does not show)."""
    trained = last_epoch(cfg.OUTPUT_DIR)
    if trained != cfg.SOLVER.MAX_EPOCH:
        raise SystemExit(f"{call.output_dir}: its training finished at epoch {trained}, but the config now asks for "
                         f"SOLVER.MAX_EPOCH {cfg.SOLVER.MAX_EPOCH}; training it on would mix two schedules: "
                         "choose another --out (or delete the folder)")


def execute(call: Call, load_cfg: Callable, progress: str, start_note: Callable[[], str] = str) -> Dict:
    """Launch run_net for ``call`` unless it finished before; its record (command, wall time).
    ``progress`` prefixes the lines printed; ``start_note()`` ends the line of a call that starts."""
    record = call.record()
    if record["command"] != call.command:
        raise SystemExit(f"{call.output_dir} holds a {call.stage} call made with another command:\n"
                         f"  {shlex.join(record['command'])}\ndelete it or choose another --out")
    if record.get("threads") != call.threads:
        raise SystemExit(f"{call.output_dir} holds a {call.stage} call made with {record.get('threads')} torch threads, "
                         f"not {call.threads}: its numbers would differ; delete it or choose another --out")
    if record["status"] == "new" and _foreign(call.output_dir):
        raise SystemExit(f"{call.output_dir} holds outputs this driver did not make (no driver-*.json record): "
                         "delete it or choose another --out")
    if record["status"] == "diverged":
        print(f"{progress} skip {call.label}: diverged earlier ({record['wall_s']:.0f} s)", flush=True)
        return record
    cfg = load_cfg(list(call.opts))
    if record["status"] == "finished" and STAGES[call.stage][0]:
        _check_schedule(call, cfg)
    if record["status"] == "finished" and complete(call, cfg):
        print(f"{progress} skip {call.label}: finished earlier ({record['wall_s']:.0f} s)", flush=True)
        return record
    os.makedirs(call.output_dir, exist_ok=True)
    print(f"{progress} start {call.label}{start_note()}", flush=True)
    record["status"] = "running"
    write_json(call.record_path, record)
    if call.prepare is not None:
        call.prepare()
    start = time.time()
    try:
        with open(os.path.join(call.output_dir, RUN_OUTPUT), "a") as log:
            code = _run(call, log)
    finally:  # the time of an interrupted attempt counts too
        record["wall_s"] += time.time() - start
        write_json(call.record_path, record)
    if code != 0 and call.may_diverge and diverged(call.output_dir):
        record["status"] = "diverged"
        write_json(call.record_path, record)
        print(f"{progress} diverged {call.label} after {time.time() - start:.0f} s (a non-finite loss)", flush=True)
        return record
    if code != 0 or not complete(call, cfg):
        raise SystemExit(f"{call.label} failed (exit code {code}): see {os.path.join(call.output_dir, RUN_OUTPUT)}")
    record["status"] = "finished"
    write_json(call.record_path, record)
    print(f"{progress} done {call.label} in {time.time() - start:.0f} s", flush=True)
    return record


def _run(call: Call, log) -> int:
    """run_net for ``call``, its output to ``log``; its exit code. Registered while it runs, so that
    ``stop_running`` can end it; none starts once the driver stops."""
    with _running_lock:
        if _stopping.is_set():
            raise SystemExit(f"{call.label}: not started, the driver is stopping")
        process = subprocess.Popen([sys.executable, *call.launch], stdout=log, stderr=subprocess.STDOUT,
                                   env=call.environment())
        _running[process.pid] = process
    try:
        return process.wait()
    finally:
        with _running_lock:
            _running.pop(process.pid, None)


def stop_running() -> None:
    """Start no more run_net process and send SIGTERM to the running ones (each resumes from its last
    checkpoint when the driver runs again)."""
    with _running_lock:
        _stopping.set()
        for process in _running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)


def run_all(tasks: Sequence[Callable[[], T]], jobs: int) -> List[T]:
    """Run ``tasks`` (each a sequence of ``execute`` calls), ``jobs`` at a time; their results, in
    order. When one fails, no other starts, the running ones finish (their work is kept), then the
    first failure is raised. When the driver is interrupted (Ctrl-C, or SIGTERM as SystemExit in the
    main thread), its run_net processes are stopped and their attempts recorded before it exits."""
    failed = threading.Event()

    def guarded(task: Callable[[], T]) -> Optional[T]:
        if failed.is_set():
            return None  # not started: an earlier task failed
        try:
            return task()
        except BaseException:
            failed.set()
            raise

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="call")
    futures = [pool.submit(guarded, task) for task in tasks]
    try:
        done, running = wait(futures, return_when=FIRST_EXCEPTION)
        if running and any(f.exception() is not None for f in done):
            print("a call failed (its error follows when the running ones finish); waiting for the running calls "
                  "(Ctrl-C stops them; they resume from their last checkpoint)", flush=True)
        wait(running)
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]
    except BaseException:
        failed.set()
        stop_running()
        raise
    finally:
        pool.shutdown(wait=True)  # the stopped calls write their records first
        _stopping.clear()
