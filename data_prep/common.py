"""Helpers shared by the data_prep scripts.

- listing videos under a folder (:func:`list_videos`),
- atomic outputs: write to a hidden ``.<name>.part`` path, rename when complete, so a killed run
  never leaves a half file that a resumed run would take as done (:func:`atomic_output`),
- the worker pool with a progress bar, where one failing item does not stop the others
  (:func:`run_tasks`),
- writing PySlowFast Kinetics csvs and classids.json (:func:`write_kinetics_files`),
- H.264 encoding (:func:`encode_h264`),
- the command-line frame: ``--jobs`` and turning :class:`DataPrepError` into a message and a
  non-zero exit code (:func:`run_cli`).
"""
import argparse
import csv
import functools
import io
import json
import multiprocessing
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import av
import numpy as np
from tqdm import tqdm

from mutualnet_video.data.synthetic import write_video
from mutualnet_video.utils.atomic import (  # noqa: F401 (re-exported for the data_prep scripts)
    atomic_output, part_path, write_json, write_lines, write_text,
)

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov")


class DataPrepError(Exception):
    """A problem the user can fix (bad argument, missing input): printed without a traceback."""


# --------------------------------------------------------------------------- command line
def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--jobs`` (worker processes, default: the number of usable CPU cores)."""
    parser.add_argument(
        "--jobs", "-j", type=int, default=default_jobs(),
        help="worker processes (default: number of usable CPU cores, here %(default)s); 1 = no pool",
    )


def run_cli(main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None) -> None:
    """Run a script's ``main(argv)`` and exit with its status.

    :class:`DataPrepError` becomes ``error: <message>`` on stderr and exit status 1; Ctrl-C exits
    with 130. Other exceptions keep their traceback (they are bugs, not user errors).
    """
    try:
        status = main(argv)
    except DataPrepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


# --------------------------------------------------------------------------- files
def list_videos(
    root: Union[str, Path], extensions: Sequence[str] = VIDEO_EXTENSIONS, progress: bool = False
) -> List[Path]:
    """Video files under ``root`` (recursive), as sorted paths relative to ``root``.

    Hidden files and folders (names starting with ``.``, e.g. unfinished ``.x.mp4.part`` outputs)
    are skipped; the extension match is case-insensitive. ``progress`` shows a running count.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataPrepError(f"not a folder: {root}")
    extensions = tuple(e.lower() for e in extensions)
    found = []
    with tqdm(desc=f"listing {root}", unit=" videos", disable=not progress) as bar:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.startswith(".") and name.lower().endswith(extensions):
                    found.append(Path(folder, name).relative_to(root))
                    bar.update()
    return sorted(found, key=lambda p: p.as_posix())


def write_csv(path: Union[str, Path], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a comma-separated file with a header atomically (fields quoted where needed)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, text.getvalue())


def read_json(path: Union[str, Path]) -> Any:
    """Read a JSON file, with an error message that names the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataPrepError(f"file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DataPrepError(f"{path} is not valid JSON: {exc}") from None


def check_separator_free(paths: Iterable[str], sep: str) -> None:
    """Raise if a csv path contains the ``path label`` separator (PySlowFast splits on it)."""
    bad = [p for p in paths if sep in p]
    if bad:
        raise DataPrepError(
            f"{len(bad)} path(s) contain the separator {sep!r} (e.g. {bad[0]!r}); PySlowFast-style "
            f"loaders split each line on it. Rename those files or folders, or choose another "
            f"separator with --sep and set DATA.PATH_LABEL_SEPARATOR to it."
        )


def write_kinetics_files(
    out_dir: Union[str, Path],
    classes: Sequence[str],
    splits: Mapping[str, Sequence[Tuple[str, int]]],
    sep: str = " ",
) -> List[Path]:
    """Write PySlowFast Kinetics files: ``<split>.csv`` (``path<sep>label`` lines) per split and
    ``classids.json`` (class name -> label, label = index in ``classes``).

    ``test.csv`` is a copy of ``val.csv`` when ``splits`` has no ``"test"`` (PySlowFast's test
    stage reads test.csv). Returns the written paths.
    """
    out_dir = Path(out_dir)
    check_separator_free((path for rows in splits.values() for path, _ in rows), sep)
    files = dict(splits)
    if "test" not in files and "val" in files:
        files["test"] = files["val"]
    written = []
    for split, rows in files.items():
        written.append(out_dir / f"{split}.csv")
        write_lines(written[-1], (f"{path}{sep}{label}" for path, label in rows))
    written.append(out_dir / "classids.json")
    write_json(written[-1], {name: label for label, name in enumerate(classes)})
    return written


# --------------------------------------------------------------------------- parallel work
@dataclass(frozen=True)
class TaskResult:
    """What became of one task: ``value`` returned by the worker, or ``error`` (a message)."""

    task: Any
    value: Any = None
    error: Optional[str] = None


def _call_worker(worker: Callable[[Any], Any], task: Any) -> TaskResult:
    try:
        return TaskResult(task, value=worker(task))
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
        return TaskResult(task, error=f"{type(exc).__name__}: {exc}")


def run_tasks(
    worker: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    jobs: int,
    desc: str,
    unit: str = "video",
    progress: bool = True,
) -> List[TaskResult]:
    """Run ``worker(task)`` for every task, in ``jobs`` processes, with a progress bar.

    Results come back in task order. An exception in a worker becomes that task's ``error``.
    ``worker`` must be a module-level function (it is pickled to the pool); ``jobs <= 1`` runs
    everything in this process.
    """
    call = functools.partial(_call_worker, worker)
    bar = dict(total=len(tasks), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
    if jobs <= 1 or len(tasks) <= 1:
        return [call(task) for task in tqdm(tasks, **bar)]
    with multiprocessing.Pool(min(jobs, len(tasks))) as pool:
        return list(tqdm(pool.imap(call, tasks, chunksize=1), **bar))


def report_failures(results: Sequence[TaskResult], what: str, limit: int = 20) -> int:
    """Print the failed tasks (at most ``limit``) to stderr; return how many failed."""
    failed = [r for r in results if r.error is not None]
    for r in failed[:limit]:
        print(f"failed: {r.task}: {r.error}", file=sys.stderr)
    if len(failed) > limit:
        print(f"... and {len(failed) - limit} more", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(results)} {what} failed", file=sys.stderr)
    return len(failed)


# --------------------------------------------------------------------------- video
def encode_h264(
    path: Union[str, Path],
    frames: Iterable[Union[av.VideoFrame, np.ndarray]],
    fps: Union[int, Fraction],
    *,
    crf: int = 23,
    preset: str = "medium",
    reproducible: bool = False,
) -> int:
    """Encode ``frames`` to an H.264 mp4 at ``path`` (libx264, yuv420p, constant frame rate).

    Frames are ``av.VideoFrame`` or RGB ``uint8`` arrays ``(H, W, 3)``, all of one even size. The
    encoder runs on one thread. ``reproducible`` also turns off x264's macroblock-tree rate
    control, so the same frames always give the same bytes (with it on, frames under about 128
    pixels came out with bytes that depended on what the process had encoded before; libx264
    core 165). The container format is given explicitly, so ``path`` may have any name (e.g. a
    ``.part`` temporary). Returns the number of frames written.
    """
    options = {"crf": str(crf), "preset": preset}
    if reproducible:
        options["x264-params"] = "mbtree=0"
    return write_video(str(path), frames, fps, codec="libx264", options=options, container_format="mp4", threads=1)


def video_rate(stream: av.video.stream.VideoStream, default: int = 30) -> Fraction:
    """The stream's frame rate (average, else guessed, else ``default``)."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return Fraction(rate)
    return Fraction(default)
