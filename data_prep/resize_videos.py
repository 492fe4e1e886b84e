"""Re-encode every video under SRC to DST at a given short side (H.264 mp4, same relative tree).

Example::

    python data_prep/resize_videos.py kinetics/raw kinetics/320 --short-side 320

Each output keeps the aspect ratio (the short side is the smaller dimension, portrait videos
included; both dimensions are rounded to even numbers for yuv420p), the frame rate (written as a
constant rate) and drops audio. A display-rotation tag (phone videos) is applied to the pixels, so
outputs are upright for decoders that ignore the tag. Outputs are written under a temporary name
and renamed when complete: re-running the command skips finished videos, so an interrupted run
resumes where it stopped.
"""
import argparse
import sys
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

if __package__ in (None, ""):  # run as a file: make the `data_prep` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np

from data_prep.common import (
    VIDEO_EXTENSIONS, DataPrepError, add_jobs_argument, atomic_output, encode_h264, list_videos,
    report_failures, run_cli, run_tasks, video_rate,
)


@dataclass(frozen=True)
class ResizeTask:
    """One video to re-encode, with the settings (picklable, sent to a worker)."""

    src: Path
    dst: Path
    short_side: int
    no_upscale: bool
    crf: int
    preset: str

    def __str__(self) -> str:
        return str(self.src)


def target_size(width: int, height: int, short_side: int, no_upscale: bool = False) -> Tuple[int, int]:
    """``(width, height)`` scaled so the smaller one is ``short_side``, both rounded to even.

    With ``no_upscale``, a video whose short side is already ``<= short_side`` keeps its size
    (rounded down to even).
    """
    if no_upscale and min(width, height) <= short_side:
        return max(2, width // 2 * 2), max(2, height // 2 * 2)
    scale = short_side / min(width, height)
    return tuple(max(2, round(d * scale / 2) * 2) for d in (width, height))


def _resized_frames(frames: Iterator[av.VideoFrame], task: ResizeTask) -> Iterator:
    """Frames scaled (and turned upright) for the output; the first frame fixes the size."""
    first = next(frames, None)
    if first is None:
        raise ValueError("no decodable video frames")
    quarter_turns = round(first.rotation / 90) % 4  # counter-clockwise display rotation
    upright = (first.height, first.width) if quarter_turns % 2 else (first.width, first.height)
    out_w, out_h = target_size(*upright, task.short_side, task.no_upscale)
    interpolation = "AREA" if out_w < upright[0] else "BICUBIC"
    for frame in chain([first], frames):
        if quarter_turns == 0:
            yield frame.reformat(out_w, out_h, format="yuv420p", interpolation=interpolation)
        else:
            stored_w, stored_h = (out_h, out_w) if quarter_turns % 2 else (out_w, out_h)
            rgb = frame.reformat(stored_w, stored_h, format="rgb24", interpolation=interpolation).to_ndarray()
            yield np.rot90(rgb, k=quarter_turns)


def resize_video(task: ResizeTask) -> str:
    """Re-encode one video; return ``"skipped"`` if the output already exists, else ``"written"``."""
    if task.dst.exists():
        return "skipped"
    with av.open(str(task.src)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        fps = video_rate(stream)
        with atomic_output(task.dst) as tmp:
            encode_h264(tmp, _resized_frames(container.decode(stream), task), fps,
                        crf=task.crf, preset=task.preset)
    return "written"


def plan_tasks(src: Path, dst: Path, args: argparse.Namespace) -> list:
    """One :class:`ResizeTask` per video under ``src``; outputs are ``dst/<relative path>.mp4``."""
    if not src.is_dir():
        raise DataPrepError(f"source folder not found: {src}")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise DataPrepError("DST must not be SRC or inside it (outputs would be listed as inputs)")
    sources = list_videos(src)
    if not sources:
        raise DataPrepError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) under {src}")
    outputs = {}
    for rel in sources:
        out = rel.with_suffix(".mp4")
        if out in outputs:
            raise DataPrepError(f"{outputs[out]} and {rel} would both be written to {out}")
        outputs[out] = rel
    return [
        ResizeTask(src / rel, dst / out, args.short_side, args.no_upscale, args.crf, args.preset)
        for out, rel in outputs.items()
    ]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Re-encode every video under SRC (mp4, webm, mkv, avi, mov) to H.264 mp4 files "
        "under DST (same relative tree) with the short side resized to --short-side. Keeps aspect "
        "ratio and frame rate, drops audio. Resumable: finished outputs are skipped.",
    )
    parser.add_argument("src", type=Path, metavar="SRC", help="folder of source videos (searched recursively)")
    parser.add_argument("dst", type=Path, metavar="DST", help="output folder (created if missing)")
    parser.add_argument("--short-side", type=int, default=320,
                        help="target length of the smaller dimension, in pixels (default: %(default)s)")
    parser.add_argument("--no-upscale", action="store_true",
                        help="keep the size of videos whose short side is already <= --short-side")
    parser.add_argument("--crf", type=int, default=23,
                        help="x264 constant rate factor: lower = better quality, bigger files "
                        "(default: %(default)s)")
    parser.add_argument("--preset", default="medium",
                        help="x264 speed preset, e.g. ultrafast, veryfast, medium, slow (default: %(default)s)")
    add_jobs_argument(parser)
    args = parser.parse_args(argv)
    if args.short_side < 2:
        parser.error("--short-side must be >= 2")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    tasks = plan_tasks(args.src, args.dst, args)
    results = run_tasks(resize_video, tasks, jobs=args.jobs, desc="resize")
    written = sum(r.value == "written" for r in results)
    skipped = sum(r.value == "skipped" for r in results)
    failed = report_failures(results, "videos")
    print(f"{written} resized, {skipped} already done, {failed} failed; outputs under {args.dst}")
    return 1 if failed else 0


if __name__ == "__main__":
    run_cli(main)
