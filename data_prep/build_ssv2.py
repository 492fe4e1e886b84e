"""Check and normalise the Something-Something-v2 files; optionally extract frames.

Example::

    python data_prep/build_ssv2.py --labels something-something-v2-labels.json \\
        --train something-something-v2-train.json --val something-something-v2-validation.json \\
        --videos ssv2/20bn-something-something-v2 --out ssv2/annotations \\
        [--extract-frames ssv2/frames --fps 30]

Checks: every entry's template, with ``[`` ``]`` stripped, must be a key of the labels file
(unknown templates are counted and listed in ``OUT/unknown_templates.txt``); every ``<id>.webm``
must be in --videos (missing ones are counted and listed in ``OUT/missing.txt``). Entries with an
unknown template, or a missing video (unless ``--keep-missing``), are dropped.

Writes into --out, for the loader (``DATA.PATH_TO_DATA_DIR`` = --out, ``DATA.PATH_PREFIX`` =
--videos): ``something-something-v2-labels.json`` (template -> id as a string, ordered by id) and
``something-something-v2-{train,validation}.json`` (the kept entries, fields unchanged).

With ``--extract-frames FRAMES``: every kept video becomes ``FRAMES/<id>/<id>_000001.jpg ...``
resampled to ``--fps`` (0 = every decoded frame), and --out gets PySlowFast frame lists
``train.csv`` / ``val.csv`` (header ``original_vido_id video_id frame_id path labels``, space
separated, one line per frame, path relative to FRAMES, labels = the class id). Extraction is
resumable per video: a video's folder appears only once all its frames are written.
"""
import argparse
import importlib.util
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set

if __package__ in (None, ""):  # run as a file: make the `data_prep` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av

from data_prep.common import (
    DataPrepError, add_jobs_argument, atomic_output, read_json, report_failures, run_cli, run_tasks,
    write_json, write_lines,
)

LABELS_JSON = "something-something-v2-labels.json"
SPLIT_JSON = {"train": "something-something-v2-train.json", "val": "something-something-v2-validation.json"}
FRAME_LIST_HEADER = "original_vido_id video_id frame_id path labels"


def normalise_template(template: str) -> str:
    """A template as the labels file spells it: brackets stripped, whitespace collapsed."""
    return " ".join(template.replace("[", "").replace("]", "").split())


def read_labels(path: Path) -> Dict[str, int]:
    """``{normalised template: class id}`` from the labels json, checking ids are unique."""
    raw = read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise DataPrepError(f"{path}: expected a JSON object template -> id")
    labels = {}
    for template, value in raw.items():
        try:
            labels[normalise_template(template)] = int(value)
        except (TypeError, ValueError):
            raise DataPrepError(f"{path}: id {value!r} of {template!r} is not an integer") from None
    ids = sorted(labels.values())
    if len(set(ids)) != len(ids):
        raise DataPrepError(f"{path}: some class ids are used twice")
    if ids != list(range(len(ids))):
        print(f"warning: {path}: class ids are not 0..{len(ids) - 1}", file=sys.stderr)
    return labels


@dataclass
class SplitCheck:
    """The outcome of checking one split: kept entries with their labels, and the problems."""

    kept: List[dict]
    labels: List[int]
    unknown: List[dict]
    missing: List[dict]


def check_split(path: Path, labels: Dict[str, int], video_names: Set[str], keep_missing: bool) -> SplitCheck:
    """Check one split json against the labels and the file names of the video folder."""
    entries = read_json(path)
    if not isinstance(entries, list):
        raise DataPrepError(f"{path}: expected a JSON list of videos")
    check = SplitCheck([], [], [], [])
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise DataPrepError(f"{path}: entry {position} has no 'id' or 'template': {entry!r}")
        label = labels.get(normalise_template(entry["template"]))
        if label is None:
            check.unknown.append(entry)
            continue
        if f"{entry['id']}.webm" not in video_names:
            check.missing.append(entry)
            if not keep_missing:
                continue
        check.kept.append(entry)
        check.labels.append(label)
    return check


# --------------------------------------------------------------------------- frames
class JpegWriter:
    """Saves video frames as JPEG files: with Pillow if it is installed, else PyAV's MJPEG encoder.

    ``quality`` is Pillow's scale (1..95); for the MJPEG encoder it maps linearly to ffmpeg's
    ``qscale`` (2..31, lower is better).
    """

    def __init__(self, quality: int, use_pillow: Optional[bool] = None):
        self.quality = quality
        self.use_pillow = importlib.util.find_spec("PIL") is not None if use_pillow is None else use_pillow
        self._encoder: Optional[av.CodecContext] = None

    def save(self, frame: av.VideoFrame, path: Path) -> None:
        if self.use_pillow:
            frame.to_image().save(path, format="JPEG", quality=self.quality)
            return
        if self._encoder is None or (self._encoder.width, self._encoder.height) != (frame.width, frame.height):
            self._encoder = av.CodecContext.create("mjpeg", "w")
            self._encoder.width, self._encoder.height = frame.width, frame.height
            self._encoder.pix_fmt, self._encoder.time_base = "yuvj420p", Fraction(1, 30)
            qscale = round(2 + (95 - min(max(self.quality, 1), 95)) * 29 / 94)
            self._encoder.options = {"qmin": str(qscale), "qmax": str(qscale)}
        packets = self._encoder.encode(frame.reformat(format="yuvj420p"))
        path.write_bytes(b"".join(bytes(p) for p in packets))


def resample(frames: Iterator[av.VideoFrame], fps: int) -> Iterator[av.VideoFrame]:
    """Frames at a constant ``fps``: output frame k is the source frame shown at time k / fps
    (rounded to the nearest output frame, so millisecond timestamps do not shift frames).

    Source frames are repeated or dropped as needed; the output has ``round(duration * fps)``
    frames, the source's duration counting one more frame interval after its last frame.
    ``fps == 0`` passes every frame through.
    """
    if fps == 0:
        yield from frames
        return
    half_step = Fraction(1, 2 * fps)
    k, start, previous, previous_time, interval = 0, None, None, None, None
    for index, frame in enumerate(frames):
        if frame.pts is None or frame.time_base is None:
            raise ValueError(f"frame {index} has no timestamp; use --fps 0 to keep every frame")
        start = frame.pts * frame.time_base if start is None else start
        time = frame.pts * frame.time_base - start
        if previous is not None:
            interval = time - previous_time
            while Fraction(k, fps) + half_step < time:
                yield previous
                k += 1
        previous, previous_time = frame, time
    if previous is None:
        return
    total = round((previous_time + (interval or Fraction(1, fps))) * fps)
    for _ in range(k, max(total, 1)):  # at least one frame for a one-frame video
        yield previous


@dataclass(frozen=True)
class FrameTask:
    """One video to extract (picklable, sent to a worker)."""

    video: Path
    out_dir: Path
    fps: int
    quality: int

    def __str__(self) -> str:
        return str(self.video)


def frame_name(video_id: str, index: int) -> str:
    """The name of frame ``index`` (0-based) of a video: ``<id>_<index + 1:06d>.jpg``."""
    return f"{video_id}_{index + 1:06d}.jpg"


def extract_frames(task: FrameTask) -> int:
    """Write the video's frames as JPEG into ``task.out_dir``; return the number of frames.

    An existing ``out_dir`` counts as done (it is only renamed into place once complete).
    """
    video_id = task.out_dir.name
    if task.out_dir.is_dir():
        return sum(1 for _ in task.out_dir.glob(f"{video_id}_*.jpg"))
    writer = JpegWriter(task.quality)
    count = 0
    with av.open(str(task.video)) as container, atomic_output(task.out_dir) as tmp:
        tmp.mkdir()
        for frame in resample(container.decode(container.streams.video[0]), task.fps):
            writer.save(frame, tmp / frame_name(video_id, count))
            count += 1
        if count == 0:
            raise ValueError("no decodable frames")
    return count


def frame_list_lines(entries: Sequence[dict], labels: Sequence[int], counts: Sequence[int]) -> Iterator[str]:
    """PySlowFast frame-list lines (header first) for videos with ``counts[i]`` frames each."""
    yield FRAME_LIST_HEADER
    for video_index, (entry, label, count) in enumerate(zip(entries, labels, counts)):
        video_id = str(entry["id"])
        for frame_index in range(count):
            yield f"{video_id} {video_index} {frame_index} {video_id}/{frame_name(video_id, frame_index)} {label}"


# --------------------------------------------------------------------------- command line
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check the Something-Something-v2 label and split files against each other and "
        "the video folder, write normalised copies for the loader, and optionally extract frames "
        "to JPEG with PySlowFast frame lists. Frame extraction is resumable per video.",
        epilog="Then: DATA.PATH_TO_DATA_DIR = --out; DATA.PATH_PREFIX = --videos (or the frames "
        "folder for frame-based loaders).",
    )
    parser.add_argument("--labels", type=Path, required=True, help=f"{LABELS_JSON} (template -> id)")
    parser.add_argument("--train", type=Path, required=True, help=SPLIT_JSON["train"])
    parser.add_argument("--val", type=Path, required=True, help=SPLIT_JSON["val"])
    parser.add_argument("--videos", type=Path, required=True, help="folder of <id>.webm videos")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder for the json (and frame-list csv) files")
    parser.add_argument("--keep-missing", action="store_true",
                        help="keep entries whose video is missing in the written json (default: drop them)")
    parser.add_argument("--extract-frames", type=Path, metavar="FRAMES_DIR",
                        help="also extract JPEG frames to FRAMES_DIR/<id>/<id>_000001.jpg and write "
                        "train.csv/val.csv")
    parser.add_argument("--fps", type=int, default=30,
                        help="frame rate of the extracted frames; 0 = every decoded frame (default: %(default)s)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality, 1..95 (default: %(default)s)")
    add_jobs_argument(parser)
    args = parser.parse_args(argv)
    if args.fps < 0:
        parser.error("--fps must be >= 0")
    if not 1 <= args.quality <= 95:
        parser.error("--quality must be in 1..95")
    return args


def _write_report(path: Path, problems: Dict[str, List[dict]], field: str) -> None:
    write_lines(path, [f"{split} {entry['id']} {entry.get(field, '')}".rstrip()
                       for split, entries in problems.items() for entry in entries])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not args.videos.is_dir():
        raise DataPrepError(f"video folder not found: {args.videos}")
    labels = read_labels(args.labels)
    video_names = set(os.listdir(args.videos))
    checks = {split: check_split(getattr(args, split), labels, video_names, args.keep_missing)
              for split in SPLIT_JSON}

    write_json(args.out / LABELS_JSON, {t: str(i) for t, i in sorted(labels.items(), key=lambda item: item[1])})
    for split, check in checks.items():
        write_json(args.out / SPLIT_JSON[split], check.kept)
    _write_report(args.out / "unknown_templates.txt", {s: c.unknown for s, c in checks.items()}, "template")
    _write_report(args.out / "missing.txt", {s: c.missing for s, c in checks.items()}, "")
    for split, check in checks.items():
        print(f"{split}: {len(check.kept)} videos kept, {len(check.unknown)} with an unknown template, "
              f"{len(check.missing)} missing .webm" + (" (kept)" if args.keep_missing else ""))
    print(f"{len(labels)} classes; wrote {LABELS_JSON}, {', '.join(SPLIT_JSON.values())}, "
          f"unknown_templates.txt, missing.txt in {args.out}")
    if not any(check.kept for check in checks.values()):
        raise DataPrepError("no usable video in either split")
    if args.extract_frames is None:
        return 0

    failed = 0
    for split, check in checks.items():
        missing_ids = {str(e["id"]) for e in check.missing}
        present = [(e, label) for e, label in zip(check.kept, check.labels) if str(e["id"]) not in missing_ids]
        tasks = [FrameTask(args.videos / f"{e['id']}.webm", args.extract_frames / str(e["id"]),
                           args.fps, args.quality) for e, _ in present]
        results = run_tasks(extract_frames, tasks, jobs=args.jobs, desc=f"frames {split}")
        failed += report_failures(results, f"{split} videos")
        done = [(e, label, r.value) for (e, label), r in zip(present, results) if r.error is None]
        write_lines(args.out / f"{split}.csv", frame_list_lines(*zip(*done)) if done else [FRAME_LIST_HEADER])
        print(f"{split}: frames of {len(done)} videos in {args.extract_frames}; "
              f"frame list {args.out / f'{split}.csv'}")
    return 1 if failed else 0


if __name__ == "__main__":
    run_cli(main)
