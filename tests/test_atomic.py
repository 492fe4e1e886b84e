"""The package's one atomic writer: a write killed midway leaves the previous complete file."""
import json
from pathlib import Path

import pytest

from mutualnet_video.budget import BudgetTable
from mutualnet_video.config import get_cfg
from mutualnet_video.engine.grid import _finished_rows
from mutualnet_video.utils import atomic


class Killed(BaseException):
    """Stands for the signal that stops a run in the middle of a write."""


def row(width, top1):
    return {"width": width, "crop": 32, "frames": 4, "gflops": width, "top1": top1, "bn_batches": 8, "views": 1,
            "checkpoint": "ck.pyth"}


def kill_text_writes(monkeypatch):
    """Every text write from now on puts half its text on disk, then the run is killed."""
    real = Path.write_text

    def half_then_die(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise Killed()

    monkeypatch.setattr(Path, "write_text", half_then_die)


def test_a_killed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_bytes(b'{"done": 1}\n')
    kill_text_writes(monkeypatch)
    with pytest.raises(Killed):
        atomic.write_json(path, {"done": 2, "padding": "x" * 100})
    assert json.loads(path.read_text()) == {"done": 1}
    assert not atomic.part_path(path).exists()


def test_a_leftover_temporary_is_replaced(tmp_path):
    path = tmp_path / "sub" / "notes.txt"
    path.parent.mkdir()
    atomic.part_path(path).write_text("half a file from a killed run")
    atomic.write_text(path, "complete\n")
    assert path.read_text() == "complete\n" and sorted(p.name for p in path.parent.iterdir()) == ["notes.txt"]


def test_curve_files_killed_mid_write_still_resume(tmp_path, monkeypatch):
    """The grid rewrites curve.json / curve.csv after every config; a kill during that rewrite must
    leave files the next run can read (it used to leave a truncated json and the resume crashed)."""
    json_path, csv_path = tmp_path / "curve.json", tmp_path / "curve.csv"
    BudgetTable([row(0.5, 40.0)]).save(str(json_path), str(csv_path))
    kill_text_writes(monkeypatch)
    with pytest.raises(Killed):
        BudgetTable([row(0.5, 40.0), row(1.0, 60.0)]).save(str(json_path), str(csv_path))
    monkeypatch.undo()
    assert BudgetTable.load(str(json_path)).rows == [row(0.5, 40.0)]
    cfg = get_cfg()
    cfg.MUTUALNET.EVAL_GRID.BN_BATCHES, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 8, 1, 1
    assert list(_finished_rows(str(json_path), cfg, "ck.pyth")) == ["w0.50-c32-t4"]
    assert csv_path.read_text().splitlines()[0].startswith("width,crop,frames,gflops")
    BudgetTable([row(0.5, 40.0), row(1.0, 60.0)]).save(str(json_path), str(csv_path))  # the resumed run
    assert [r["top1"] for r in BudgetTable.load(str(json_path))] == [40.0, 60.0]
    assert len(csv_path.read_text().splitlines()) == 3
