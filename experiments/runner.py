"""Running ``tools/run_net.py`` as a subprocess (what is measured is what users run), resumably.

A ``Call`` is one run_net invocation with its OUTPUT_DIR. Its record ``driver-<stage>.json`` in
that folder keeps the command, the status and the wall time of all its attempts; a call whose
record says finished and whose outputs are complete is skipped, so an interrupted driver continues
where it stopped (an unfinished run_net resumes from its last checkpoint). A finished training whose
epoch count is no longer the config's SOLVER.MAX_EPOCH stops the driver. A folder holding a call
made with another command, or outputs without any record of this driver, is an error: delete it
or choose another --out.

Stages: ``train`` (training only: the sweep, where no test number may be computed before the
learning rate is chosen), ``train+test`` (training, then run_net's own TEST: the grid on the test
split), ``test`` (the grid on the test split of an already trained run), ``val`` (the grid on the
val split, TEST.SPLIT val, from the run's last checkpoint, in ``<run>/val``).
"""
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from data_prep.common import read_json, write_json

from .results import curve_complete, finished_training, last_epoch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_NET = os.path.join(ROOT, "tools", "run_net.py")
RUN_OUTPUT = "run_net.out"  # per output folder: run_net's stdout and stderr
STAGES = {  # stage: (TRAIN.ENABLE, TEST.ENABLE, TEST.SPLIT)
    "train": (True, False, "test"),
    "train+test": (True, True, "test"),
    "test": (False, True, "test"),
    "val": (False, True, "val"),
}


@dataclass(frozen=True)
class Call:
    """One run_net invocation: ``opts`` already hold OUTPUT_DIR and the stage's switches; ``prepare``
    (optional) runs just before each launch, after the record exists."""

    stage: str
    label: str
    output_dir: str
    base_cfg: str
    opts: tuple
    prepare: Optional[Callable[[], None]] = field(default=None, compare=False)

    @property
    def command(self) -> List[str]:
        return [RUN_NET, "--cfg", self.base_cfg, "--opts", *self.opts]

    @property
    def record_path(self) -> str:
        return os.path.join(self.output_dir, f"driver-{self.stage}.json")

    def record(self) -> Dict:
        """The call's record (a new one if it never started)."""
        if os.path.isfile(self.record_path):
            return read_json(self.record_path)
        return {"stage": self.stage, "command": self.command, "wall_s": 0.0, "status": "new"}


def stage_opts(stage: str, output_dir: str) -> List[str]:
    """OUTPUT_DIR and the TRAIN / TEST switches of ``stage``."""
    train, test, split = STAGES[stage]
    return ["OUTPUT_DIR", output_dir, "TRAIN.ENABLE", str(train), "TEST.ENABLE", str(test), "TEST.SPLIT", split]


def complete(call: Call, load_cfg: Callable) -> bool:
    """The call's outputs are all there: training reached its last epoch, the grid is complete."""
    cfg = load_cfg(list(call.opts))
    train, test, _ = STAGES[call.stage]
    return (not train or finished_training(cfg)) and (not test or curve_complete(cfg))


def _foreign(output_dir: str) -> bool:
    """``output_dir`` holds files but no record of any call of this driver (e.g. a run of an older
    driver, whose checkpoints run_net would silently resume)."""
    if not os.path.isdir(output_dir) or not os.listdir(output_dir):
        return False
    return not any(name.startswith("driver-") and name.endswith(".json") for name in os.listdir(output_dir))


def _check_schedule(call: Call, load_cfg: Callable) -> None:
    """A finished training must still be what the config asks: run_net would otherwise resume it
    and train on, on another learning-rate schedule (e.g. after SOLVER.MAX_EPOCH was edited in the
    base config, which the command does not show)."""
    cfg = load_cfg(list(call.opts))
    trained = last_epoch(cfg.OUTPUT_DIR)
    if trained != cfg.SOLVER.MAX_EPOCH:
        raise SystemExit(f"{call.output_dir}: its training finished at epoch {trained}, but the config now asks for "
                         f"SOLVER.MAX_EPOCH {cfg.SOLVER.MAX_EPOCH}; training it on would mix two schedules: "
                         "choose another --out (or delete the folder)")


def execute(call: Call, load_cfg: Callable, progress: str) -> Dict:
    """Launch run_net for ``call`` unless it finished before; its record (command, wall time)."""
    record = call.record()
    if record["command"] != call.command:
        raise SystemExit(f"{call.output_dir} holds a {call.stage} call made with another command:\n"
                         f"  {shlex.join(record['command'])}\ndelete it or choose another --out")
    if record["status"] == "new" and _foreign(call.output_dir):
        raise SystemExit(f"{call.output_dir} holds outputs this driver did not make (no driver-*.json record): "
                         "delete it or choose another --out")
    if record["status"] == "finished" and STAGES[call.stage][0]:
        _check_schedule(call, load_cfg)
    if record["status"] == "finished" and complete(call, load_cfg):
        print(f"{progress} skip {call.label}: finished earlier ({record['wall_s']:.0f} s)", flush=True)
        return record
    os.makedirs(call.output_dir, exist_ok=True)
    print(f"{progress} start {call.label}", flush=True)
    record["status"] = "running"
    write_json(call.record_path, record)
    if call.prepare is not None:
        call.prepare()
    start = time.time()
    try:
        with open(os.path.join(call.output_dir, RUN_OUTPUT), "a") as log:
            code = subprocess.call([sys.executable, *call.command], stdout=log, stderr=subprocess.STDOUT)
    finally:  # the time of an interrupted attempt counts too
        record["wall_s"] += time.time() - start
        write_json(call.record_path, record)
    if code != 0 or not complete(call, load_cfg):
        raise SystemExit(f"{call.label} failed (exit code {code}): see {os.path.join(call.output_dir, RUN_OUTPUT)}")
    record["status"] = "finished"
    write_json(call.record_path, record)
    print(f"{progress} done {call.label} in {time.time() - start:.0f} s", flush=True)
    return record
