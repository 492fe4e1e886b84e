"""The embedded default data set: small procedural videos whose classes need appearance AND motion.

Example::

    python data_prep/make_synthetic.py --out data/synthetic
    # then: DATA.PATH_TO_DATA_DIR data/synthetic DATA.PATH_PREFIX data/synthetic

Each video shows one bright object (a disc, a square or a cross, random colour, size and orientation)
travelling in a straight line over a dark textured background that drifts in a random direction, with
per-frame pixel noise. The class is the pair (object, direction of travel): ``disc_left``,
``square_up``, ... (3 objects x 4 directions = 12 classes), like real actions, where *what* moves and
*how* it moves both matter:

- the object tells ``disc_*`` from ``square_*`` in a single frame;
- the direction tells ``disc_left`` from ``disc_right`` only through the order of frames (positions
  wrap around the frame edges and start uniformly, so any one frame looks alike for every direction).

No aliasing at the demo's smallest frame count: the fastest object moves :data:`MAX_SPEED` = 2 pixels
per frame (at size 64), i.e. 16 pixels per sampled step when 4 frames span 32 source frames (the
demo's clip: 8 frames at stride 4 of a 15 fps video), below half the smallest object's diameter
(:data:`MIN_EXTENT` x size = 16.6 pixels at 64; :func:`max_step_ratio` computes this for any clip).
The objects are large (a diameter of 52-60% of the frame) so that the clip can span most of the
video and move far between sampled frames: a tiny X3D learned the directions much faster with 2-4
pixels of movement per sampled frame at its input than with 1-2 (issue #12's notes).
Objects do not spin, so the "45 degrees per step" bound of rotations is met trivially.

Layout (Kinetics style, paths relative to ``--out``)::

    OUT/videos/<class>/{train,val,test}_<i:03d>.mp4   H.264, yuv420p, SIZE x SIZE, FPS
    OUT/train.csv, OUT/val.csv, OUT/test.csv          "videos/<class>/train_000.mp4 <label>"
    OUT/classids.json                                 class name -> label (sorted names)
    OUT/annotations.json                              per video: path, split, label, object, direction,
                                                      colour, speed (ground truth for analysis)
    OUT/synthetic.json                                the generator's settings

Three disjoint splits: ``train`` to fit, ``val`` for every choice (learning rate, query table, early
stop), ``test`` only to report. Train with ``DATA.RANDOM_FLIP False``: a horizontal flip turns
``*_left`` into ``*_right`` without changing the label.

The output is a pure function of the settings: the same seed gives byte-identical files (with the
same numpy and libx264; the encoder runs single-threaded and without macroblock-tree rate control,
see :func:`data_prep.common.encode_h264`), and videos of another seed are new videos of the same
classes. Finished videos are kept when the command is re-run with the same settings, so an
interrupted run resumes.
"""
import argparse
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

if __package__ in (None, ""):  # run as a file: make the `data_prep` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from data_prep.common import (
    DataPrepError, add_jobs_argument, atomic_output, encode_h264, read_json, report_failures,
    run_cli, run_tasks, write_json, write_kinetics_files,
)

GENERATOR_VERSION = 4
SPLITS = ("train", "val", "test")

OBJECTS = ("disc", "square", "cross")
# Direction of travel (x right, y down), in complementary pairs.
DIRECTIONS: Dict[str, Tuple[float, float]] = {
    "left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0),
}
# Classes in generation order: the first k classes (k = 2, 4, ...) are one object's directions,
# so small test sets differ by direction only; labels follow the sorted names.
CLASSES: Tuple[str, ...] = tuple(f"{obj}_{direction}" for obj in OBJECTS for direction in DIRECTIONS)

MIN_SPEED, MAX_SPEED = 1.0, 2.0  # object speed, pixels per frame at size 64 (scaled with the size)
MIN_EXTENT, MAX_EXTENT = 0.26, 0.30  # object half-extent (radius), as a fraction of the frame side
BACKGROUND_SPEED = 0.5  # max background drift, pixels per frame at size 64
# Colours (RGB, 0..255, each channel drawn uniformly): a bright object on a dark background (with
# colours of any brightness a small 3D CNN stayed at chance: per-video appearance swamped the signal).
BACKGROUND_MAX = 60  # first background colour: each channel in [0, BACKGROUND_MAX)
BACKGROUND_CONTRAST = 40  # second background colour: the first plus [0, BACKGROUND_CONTRAST) per channel
SHAPE_MIN = 170  # object colour: each channel in [SHAPE_MIN, 256)
NOISE_SIGMA = 6.0
SUPERSAMPLING = 2  # object edges are antialiased from SUPERSAMPLING^2 samples per pixel


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one synthetic video; :func:`render_clip` is a pure function of it.

    Lengths are in pixels, times in frames, angles in radians; the image y axis points down.
    """

    label: str  # the class name, "<object>_<direction>"
    shape: str  # the object
    direction: str
    colour: Tuple[int, int, int]
    extent: float  # object half-extent
    start: Tuple[float, float]  # object centre at frame 0 (x, y)
    velocity: Tuple[float, float]
    angle: float  # orientation
    background: Tuple[Tuple[int, int, int], Tuple[int, int, int]]  # the two blended colours
    gratings: Tuple[Tuple[int, int, float, float], ...]  # (fx, fy, phase, amplitude) per grating
    background_velocity: Tuple[float, float]
    noise_seed: int


def sample_clip(label: str, rng: np.random.Generator, size: int) -> ClipSpec:
    """Draw the random parameters of one video of class ``label`` for a ``size`` x ``size`` frame.

    Everything except the object and the direction is drawn from the same distribution for every class.
    """
    shape, direction = label.split("_")
    unit = size / 64
    base = rng.integers(0, BACKGROUND_MAX, 3)
    background = (tuple(int(v) for v in base),
                  tuple(int(v) for v in base + rng.integers(0, BACKGROUND_CONTRAST, 3)))
    colour = rng.integers(SHAPE_MIN, 256, 3)
    gratings = []
    for _ in range(5):
        fx, fy = 0, 0
        while fx == 0 and fy == 0:
            fx, fy = (int(f) for f in rng.integers(-4, 5, 2))
        gratings.append((fx, fy, float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.2, 1.0))))
    bg_angle = rng.uniform(0, 2 * math.pi)
    bg_speed = rng.uniform(0, BACKGROUND_SPEED) * unit
    speed = rng.uniform(MIN_SPEED, MAX_SPEED) * unit
    dx, dy = DIRECTIONS[direction]
    return ClipSpec(
        label=label,
        shape=shape,
        direction=direction,
        colour=tuple(int(v) for v in colour),
        extent=float(rng.uniform(MIN_EXTENT, MAX_EXTENT)) * size,
        start=(float(rng.uniform(0, size)), float(rng.uniform(0, size))),
        velocity=(dx * speed, dy * speed),
        angle=float(rng.uniform(0, 2 * math.pi)),
        background=background,
        gratings=tuple(gratings),
        background_velocity=(bg_speed * math.cos(bg_angle), bg_speed * math.sin(bg_angle)),
        noise_seed=int(rng.integers(2**31)),
    )


def max_step_ratio(span_frames: float, num_frames: int) -> float:
    """The fastest object's travel between two sampled frames, as a fraction of half the smallest
    object's diameter, for ``num_frames`` frames spread over ``span_frames`` source frames (size
    independent). Below 1, no direction can alias into another."""
    step = span_frames / num_frames
    return MAX_SPEED * step / (MIN_EXTENT * 64)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in the object's own coordinates (radius 1)."""
    if shape == "disc":
        return u**2 + v**2 <= 1
    if shape == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "cross":
        return ((np.abs(u) <= 1) & (np.abs(v) <= 0.33)) | ((np.abs(v) <= 1) & (np.abs(u) <= 0.33))
    raise ValueError(f"unknown shape {shape!r}")


def _background(spec: ClipSpec, t: int, size: int) -> np.ndarray:
    """The background at frame ``t``: periodic gratings drifting with the background velocity,
    blending its two colours; ``float32`` ``(size, size, 3)``."""
    x = (np.arange(size) + 0.5 - spec.background_velocity[0] * t) / size
    y = (np.arange(size) + 0.5 - spec.background_velocity[1] * t) / size
    texture = np.zeros((size, size))
    for fx, fy, phase, amplitude in spec.gratings:
        # cos(X + Y) = cos X cos Y - sin X sin Y: two outer products instead of a 2-D cosine
        gx, gy = 2 * math.pi * fx * x + phase, 2 * math.pi * fy * y
        texture += amplitude * (np.outer(np.cos(gy), np.cos(gx)) - np.outer(np.sin(gy), np.sin(gx)))
    texture = (texture / sum(g[3] for g in spec.gratings) + 1) / 2  # in [0, 1]
    low, high = (np.array(c, dtype=np.float32) for c in spec.background)
    return low + (high - low) * texture[..., None].astype(np.float32)


def _shape_alpha(spec: ClipSpec, t: int, size: int) -> np.ndarray:
    """The object's coverage of each pixel at frame ``t`` (antialiased), ``(size, size)`` in [0, 1]."""
    ss = SUPERSAMPLING
    samples = (np.arange(size * ss, dtype=np.float32) + 0.5) / ss
    # offsets from the shape's centre along each axis, wrapped around the frame edges
    dx = (samples - (spec.start[0] + spec.velocity[0] * t) + size / 2) % size - size / 2
    dy = (samples - (spec.start[1] + spec.velocity[1] * t) + size / 2) % size - size / 2
    cos, sin = math.cos(spec.angle) / spec.extent, math.sin(spec.angle) / spec.extent
    u = cos * dx[None, :] + sin * dy[:, None]  # the object's own coordinates: rotated and scaled
    v = cos * dy[:, None] - sin * dx[None, :]
    return _shape_mask(spec.shape, u, v).reshape(size, ss, size, ss).mean(axis=(1, 3), dtype=np.float32)


def render_clip(spec: ClipSpec, frames: int, size: int) -> np.ndarray:
    """Render ``spec`` as RGB frames, ``uint8`` array ``(frames, size, size, 3)``."""
    colour = np.array(spec.colour, dtype=np.float32)
    noise = np.random.default_rng(spec.noise_seed)
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        image = _background(spec, t, size)
        image += (colour - image) * _shape_alpha(spec, t, size)[..., None]
        image += noise.normal(0.0, NOISE_SIGMA, image.shape).astype(np.float32)
        out[t] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class VideoTask:
    """One video to render and encode (picklable, sent to a worker)."""

    path: Path
    spec: ClipSpec
    frames: int
    size: int
    fps: int

    def __str__(self) -> str:
        return str(self.path)


def write_video(task: VideoTask) -> str:
    """Render and encode one video; ``"skipped"`` if it already exists, else ``"written"``."""
    if task.path.exists():
        return "skipped"
    with atomic_output(task.path) as tmp:
        encode_h264(tmp, render_clip(task.spec, task.frames, task.size), task.fps, crf=20, reproducible=True)
    return "written"


@dataclass(frozen=True)
class SyntheticDataset:
    """Where :func:`make_synthetic` put things; use ``root`` as PATH_TO_DATA_DIR and PATH_PREFIX."""

    root: Path
    classes: Tuple[str, ...]  # index = label
    train_csv: Path
    val_csv: Path
    test_csv: Path
    classids_json: Path
    annotations_json: Path


def _prepare_folder(root: Path, settings: dict, overwrite: bool) -> None:
    """Make ``root`` ready for ``settings``: keep a matching earlier run, refuse foreign content."""
    marker = root / "synthetic.json"
    if marker.exists():
        if read_json(marker).get("settings") == settings and not overwrite:
            return
        if not overwrite:
            raise DataPrepError(
                f"{root} holds a synthetic data set made with other settings; pass --overwrite "
                f"(overwrite=True) to replace it, or choose another folder"
            )
        for name in ("videos", "train.csv", "val.csv", "test.csv", "classids.json", "annotations.json"):
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    elif root.exists() and any(root.iterdir()):
        raise DataPrepError(f"{root} is not empty and is not a synthetic data set; choose an empty or new folder")
    write_json(marker, {"generator": "data_prep.make_synthetic", "settings": settings})


def make_synthetic(
    out: Union[str, Path],
    *,
    seed: int = 0,
    num_classes: int = len(CLASSES),
    train_per_class: int = 32,
    val_per_class: int = 12,
    test_per_class: int = 40,
    frames: int = 40,
    size: int = 64,
    fps: int = 15,
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool = False,
) -> SyntheticDataset:
    """Write the synthetic data set to ``out`` (see the module docstring for the layout).

    Args:
        out: output folder; created, or an earlier output of this function (kept when the settings
            match, so calling twice is cheap; replaced only with ``overwrite``).
        seed: every video's parameters derive from (seed, split, class, index).
        num_classes: the first ``num_classes`` of :data:`CLASSES` (disc left/right/up/down, then
            square, then cross); at most ``len(CLASSES)``.
        train_per_class, val_per_class, test_per_class: videos per class in each split.
        frames, size, fps: video length (frames), frame side (even, pixels) and frame rate.
        jobs: worker processes for rendering and encoding (1 = in this process).
        overwrite: replace an earlier synthetic data set made with other settings.
        progress: show a progress bar.
    Returns:
        a :class:`SyntheticDataset` with the written paths and the class names (index = label).
    Raises:
        DataPrepError: on bad settings, a non-empty foreign folder, or videos that failed.
    """
    if seed < 0:
        raise DataPrepError("seed must be >= 0")
    if not 2 <= num_classes <= len(CLASSES):
        raise DataPrepError(f"num_classes must be between 2 and {len(CLASSES)}, got {num_classes}")
    if size < 16 or size % 2:
        raise DataPrepError(f"size must be an even number >= 16, got {size}")
    per_split = {"train": train_per_class, "val": val_per_class, "test": test_per_class}
    if frames < 2 or fps < 1 or min(per_split.values()) < 1:
        raise DataPrepError("frames must be >= 2; fps and the videos per class of every split >= 1")
    root = Path(out)
    settings = dict(version=GENERATOR_VERSION, seed=seed, num_classes=num_classes,
                    train_per_class=train_per_class, val_per_class=val_per_class,
                    test_per_class=test_per_class, frames=frames, size=size, fps=fps)
    _prepare_folder(root, settings, overwrite)

    classes = tuple(sorted(CLASSES[:num_classes]))
    tasks, annotations, rows = [], [], {split: [] for split in SPLITS}
    for split_code, split in enumerate(SPLITS):
        for label, name in enumerate(classes):
            for index in range(per_split[split]):
                # the stream depends on the class's name, not on the label, so adding classes
                # leaves the other videos unchanged
                rng = np.random.default_rng([seed, split_code, CLASSES.index(name), index])
                spec = sample_clip(name, rng, size)
                rel = f"videos/{name}/{split}_{index:03d}.mp4"
                tasks.append(VideoTask(root / rel, spec, frames, size, fps))
                rows[split].append((rel, label))
                annotations.append(dict(path=rel, split=split, label=label, object=spec.shape,
                                        direction=spec.direction, colour=list(spec.colour),
                                        speed=math.hypot(*spec.velocity)))

    results = run_tasks(write_video, tasks, jobs=jobs, desc="synthetic videos", progress=progress)
    failed = report_failures(results, "videos")
    if failed:
        raise DataPrepError(f"{failed} synthetic videos could not be written")

    write_kinetics_files(root, classes, rows)
    write_json(root / "annotations.json", annotations)
    return SyntheticDataset(root, classes, root / "train.csv", root / "val.csv", root / "test.csv",
                            root / "classids.json", root / "annotations.json")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write the embedded synthetic data set: small H.264 videos whose class is an object "
        "(disc, square, cross) and its direction of travel (left, right, up, down) over drifting, noisy "
        "textured backgrounds, in Kinetics layout (train.csv, val.csv, test.csv, classids.json; paths "
        "relative to --out). Deterministic from --seed; re-running with the same settings keeps finished videos.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (new, empty, or an earlier output)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--num-classes", type=int, default=len(CLASSES),
                        help=f"number of classes, 2..{len(CLASSES)} (default: %(default)s)")
    parser.add_argument("--train-per-class", type=int, default=32,
                        help="training videos per class (default: %(default)s)")
    parser.add_argument("--val-per-class", type=int, default=12,
                        help="validation videos per class (default: %(default)s)")
    parser.add_argument("--test-per-class", type=int, default=40,
                        help="test videos per class (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=40, help="frames per video (default: %(default)s)")
    parser.add_argument("--size", type=int, default=64, help="frame width and height, even (default: %(default)s)")
    parser.add_argument("--fps", type=int, default=15, help="frame rate (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a synthetic data set in --out that was made with other settings")
    add_jobs_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    dataset = make_synthetic(
        args.out, seed=args.seed, num_classes=args.num_classes, train_per_class=args.train_per_class,
        val_per_class=args.val_per_class, test_per_class=args.test_per_class, frames=args.frames, size=args.size, fps=args.fps,
        jobs=args.jobs, overwrite=args.overwrite, progress=True,
    )
    print(f"{len(dataset.classes)} classes: {', '.join(dataset.classes)}")
    print(f"wrote {dataset.train_csv}, {dataset.val_csv}, {dataset.test_csv}, {dataset.classids_json}")
    print(f"use DATA.PATH_TO_DATA_DIR {dataset.root} DATA.PATH_PREFIX {dataset.root} "
          f"MODEL.NUM_CLASSES {len(dataset.classes)} DATA.RANDOM_FLIP False "
          f"(a horizontal flip turns left into right)")
    return 0


if __name__ == "__main__":
    run_cli(main)
