"""Find the videos of a Kinetics-style csv that a loader could not read.

Example::

    python data_prep/scan_dataset.py --csv k400/csv/train.csv --prefix k400/videos \\
        --report bad.csv --cleaned k400/csv/train_clean.csv

Each listed video is opened and decoded at its first frame and at its end (the last second, found
by seeking; the whole video with ``--full``). Reported reasons: missing file, empty file, not a
video (cannot be opened: text, truncated mp4 without its index, ...), no video stream, no
decodable frames, decode error, truncated (the decodable frames stop well before the duration the
header announces). Then random access is checked against sequential decoding: the loader's reader
for ``--backend`` (``mutualnet_video.data.open_video``, opened afresh for each frame, as the loader
opens a video per clip) reads ``--exact-frames`` frames spread from the first to the last, and each
must equal that frame of a sequential PyAV decode (up to colour conversion); a file it would misread
(another frame, another frame count, or an error where sequential decoding works) is reported as
``misread by <backend>: ...``. ``--cleaned`` writes the csv without the bad lines.
"""
import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

if __package__ in (None, ""):  # run as a file: make the `data_prep` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np

from data_prep.common import (
    DataPrepError, add_jobs_argument, report_failures, run_cli, run_tasks, write_csv, write_lines,
)

from mutualnet_video.data.decoders import VideoDecodeError, open_video

END_WINDOW_S = 1.0  # the end check seeks to this many seconds before the announced duration
TRUNCATION_TOLERANCE_S = 0.5  # how far before the announced end the last frame may be
EXACT_TOLERANCE = 2.0  # mean absolute difference (of 255) allowed between decoders: colour conversion


@dataclass(frozen=True)
class CsvEntry:
    """One line of the csv: the line as written, its video path, the path joined to the prefix."""

    line: str
    path: str
    full_path: str


@dataclass(frozen=True)
class ScanTask:
    """One video to check (picklable, sent to a worker)."""

    entry: CsvEntry
    backend: str
    full: bool
    exact_frames: int = 0

    def __str__(self) -> str:
        return self.entry.path


def read_csv_entries(csv_path: Path, prefix: str, sep: str) -> List[CsvEntry]:
    """The csv's non-blank lines; ``path label`` (the label is the last field) or just ``path``."""
    try:
        text = csv_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataPrepError(f"csv not found: {csv_path}") from None
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        path, _, label = line.rpartition(sep)
        if not path or not label.strip().lstrip("-").isdigit():
            path = line  # no label: the whole line is the path
        entries.append(CsvEntry(line, path, os.path.join(prefix, path)))
    if not entries:
        raise DataPrepError(f"{csv_path} lists no videos")
    return entries


def _truncation(end_time: float, duration: Optional[float], fps: float) -> Optional[str]:
    """A reason if the frames end (``end_time``: start of the last frame) well before ``duration``."""
    if duration is not None and end_time < duration - TRUNCATION_TOLERANCE_S - 1 / fps:
        return f"truncated: frames stop at {end_time:.2f} s of {duration:.2f} s"
    return None


def _check_pyav(path: str, full: bool) -> Optional[str]:
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        return f"not a video (cannot open): {exc}"
    with container:
        if not container.streams.video:
            return "no video stream"
        stream = container.streams.video[0]
        frames = container.decode(stream)
        first = next(frames, None)
        if first is None:
            return "no decodable frames"
        duration = container.duration / av.time_base if container.duration else None
        if duration is not None and not full and duration > END_WINDOW_S:
            container.seek(int((duration - END_WINDOW_S) / stream.time_base), stream=stream)
            frames = container.decode(stream)
        last = first
        for last in frames:
            pass
        if last.time is None:
            return None
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return _truncation(last.time - start, duration, float(stream.average_rate or 30))


def _check_decord(path: str, full: bool) -> Optional[str]:
    import decord  # imported here: only this backend needs it

    try:
        reader = decord.VideoReader(path, num_threads=1)
    except RuntimeError as exc:  # decord.DECORDError is one; some open failures are plain ones
        return f"not a video (cannot open): {str(exc).splitlines()[0]}"
    count = len(reader)
    if count == 0:
        return "no decodable frames"
    indices = range(count) if full else sorted({0, count - 1})
    for index in indices:
        reader[index]
    # decord counts the frames it can reach, so a cut file looks complete to it: compare the last
    # frame's time with the duration in the container header (read by PyAV, without decoding)
    with av.open(path) as container:
        duration = container.duration / av.time_base if container.duration else None
    return _truncation(float(reader.get_frame_timestamp(count - 1)[0]), duration, reader.get_avg_fps() or 30)


def check_frame_exact(path: str, backend: str, num_probes: int) -> Optional[str]:
    """Why ``backend``'s reader would misread the video, or None: ``num_probes`` frames from the first
    to the last, each read at random by a fresh reader, against a sequential PyAV decode."""
    with open_video(path, backend) as reader:
        count = reader.num_frames
    probes = sorted({int(i) for i in np.linspace(0, count - 1, max(num_probes, 1)).round()})
    reference, decoded = {}, 0
    with av.open(path) as container:
        for decoded, frame in enumerate(container.decode(video=0), start=1):
            if decoded - 1 in probes:
                reference[decoded - 1] = frame.to_ndarray(format="rgb24")
    if decoded != count:
        return f"misread by {backend}: it counts {count} frames, sequential decoding {decoded}"
    for i in probes:
        try:
            with open_video(path, backend) as reader:
                frame = reader.read([i])[0].numpy()
        except VideoDecodeError as exc:
            return f"misread by {backend}: frame {i} fails at random access ({exc.reason}), not sequentially"
        diff = float(np.abs(frame.astype(np.int16) - reference[i].astype(np.int16)).mean())
        if frame.shape != reference[i].shape or diff > EXACT_TOLERANCE:
            return f"misread by {backend}: frame {i} is not frame {i} of sequential decoding (mean abs diff {diff:.1f})"
    return None


def check_video(task: ScanTask) -> Optional[str]:
    """The reason why the video is unusable or would be misread, or None if it decodes exactly."""
    path = task.entry.full_path
    if not os.path.isfile(path):
        return "missing file"
    if os.path.getsize(path) == 0:
        return "empty file"
    check = _check_decord if task.backend == "decord" else _check_pyav
    try:
        reason = check(path, task.full)
        if reason is None and task.exact_frames:
            reason = check_frame_exact(path, task.backend, task.exact_frames)
        return reason
    except Exception as exc:  # noqa: BLE001 - any failure to decode is what we report
        message = str(exc).splitlines()[0] if str(exc) else ""
        return f"decode error: {type(exc).__name__}" + (f": {message}" if message else "")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Open and decode (first frame and end, or everything with --full) every video "
        "of a Kinetics-style csv, check random access against sequential decoding; report the unreadable, "
        "empty, truncated, non-video or misread files and optionally write a cleaned csv without them.",
    )
    parser.add_argument("--csv", type=Path, required=True, help="csv with 'path label' lines")
    parser.add_argument("--prefix", default="", help="folder the csv paths are relative to (DATA.PATH_PREFIX)")
    parser.add_argument("--sep", default=" ", help="path/label separator (default: a space)")
    parser.add_argument("--backend", choices=("pyav", "decord"), default="pyav",
                        help="decoder to test with (default: %(default)s)")
    parser.add_argument("--full", action="store_true", help="decode every frame (slow, thorough)")
    parser.add_argument("--exact-frames", type=int, default=4,
                        help="frames per video read at random and compared with sequential decoding, first to "
                        "last (default: %(default)s; 0: no frame-exactness check)")
    parser.add_argument("--report", type=Path, help="write the bad videos here as csv (path,reason)")
    parser.add_argument("--cleaned", type=Path, help="write the csv without the bad videos here")
    add_jobs_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    entries = read_csv_entries(args.csv, args.prefix, args.sep)
    tasks = [ScanTask(entry, args.backend, args.full, args.exact_frames) for entry in entries]
    results = run_tasks(check_video, tasks, jobs=args.jobs, desc="scan")
    if report_failures(results, "checks"):  # a crash of the checker itself, not a bad video
        return 1
    bad = [(index, task.entry, result.value)
           for index, (task, result) in enumerate(zip(tasks, results)) if result.value is not None]
    for _, entry, reason in bad[:20]:
        print(f"bad: {entry.path}: {reason}")
    if len(bad) > 20:
        print(f"... and {len(bad) - 20} more" + ("" if args.report else " (use --report to list all)"))
    if args.report:
        write_csv(args.report, ("path", "reason"), ((entry.path, reason) for _, entry, reason in bad))
    if args.cleaned:
        bad_indices = {index for index, _, _ in bad}
        write_lines(args.cleaned, (e.line for i, e in enumerate(entries) if i not in bad_indices))
    print(f"scanned {len(entries)} videos: {len(bad)} bad, {len(entries) - len(bad)} good"
          + (f"; report {args.report}" if args.report else "")
          + (f"; cleaned csv {args.cleaned}" if args.cleaned else ""))
    return 0


if __name__ == "__main__":
    run_cli(main)
