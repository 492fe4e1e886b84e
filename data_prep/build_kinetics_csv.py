"""Write PySlowFast Kinetics csvs (``path label`` lines) and ``classids.json``.

Two sources:

1. Class folders (``--from-folders ROOT``): ``ROOT/{train,val}/<class>/...`` (and ``ROOT/test/``
   if present), or ``ROOT/<class>/...`` split into train/val by ``--val-fraction`` (per class,
   deterministic from ``--seed``). Paths are relative to ROOT: set ``DATA.PATH_PREFIX`` to ROOT.
2. Official annotations (``--annotations kinetics400_train.csv --annotations kinetics400_val.csv
   --videos CLIPS``): csvs with the header ``label,youtube_id,time_start,time_end,split``; clips
   named ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` or ``<youtube_id>.<ext>`` anywhere under
   CLIPS (flat or in sub-folders). Paths are relative to CLIPS. Annotated clips that are not on disk
   are counted and listed in ``OUT/missing.txt`` (same csv header as the annotations, so it can be
   fed back to a downloader).

Outputs in ``--out``: ``train.csv``, ``val.csv``, ``test.csv`` (a copy of val.csv unless there is
a labelled test split) and ``classids.json`` (class name -> label, names sorted).

Examples::

    python data_prep/build_kinetics_csv.py --from-folders k400/videos --out k400/csv
    python data_prep/build_kinetics_csv.py --annotations kinetics400/train.csv \\
        --annotations kinetics400/validate.csv --videos k400/clips --out k400/csv
"""
import argparse
import csv
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

if __package__ in (None, ""):  # run as a file: make the `data_prep` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm

from data_prep.common import (
    VIDEO_EXTENSIONS, DataPrepError, list_videos, run_cli, write_csv, write_kinetics_files,
)

Rows = List[Tuple[str, int]]
SPLIT_NAMES = {"train": "train", "val": "val", "validate": "val", "validation": "val", "test": "test"}
ANNOTATION_COLUMNS = ("youtube_id", "time_start", "time_end", "split")


# --------------------------------------------------------------------------- class folders
def _class_folders(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _videos_by_class(root: Path, split_folder: Path) -> Dict[str, List[str]]:
    """``{class: [path relative to root, ...]}`` for the class folders of ``split_folder``."""
    videos = {}
    for name in _class_folders(split_folder):
        rels = list_videos(split_folder / name)
        videos[name] = [(split_folder / name / rel).relative_to(root).as_posix() for rel in rels]
    return videos


def split_by_fraction(
    paths: Sequence[str], val_fraction: float, seed: int, key: str
) -> Tuple[List[str], List[str]]:
    """Split one class's ``paths`` into (train, val), both sorted.

    ``round(val_fraction * n)`` videos go to val, at least one and at most ``n - 1`` when the class
    has two or more videos and ``val_fraction > 0``. The choice depends only on the paths, the seed
    and ``key`` (the class name), not on the other classes.
    """
    ordered = sorted(paths)
    n_val = round(val_fraction * len(ordered))
    if val_fraction > 0 and len(ordered) >= 2:
        n_val = min(max(n_val, 1), len(ordered) - 1)
    random.Random(f"{seed}/{key}").shuffle(ordered)
    return sorted(ordered[n_val:]), sorted(ordered[:n_val])


def rows_from_folders(root: Path, val_fraction: Optional[float], seed: int) -> Tuple[List[str], Dict[str, Rows]]:
    """Classes and per-split rows from a class-per-folder tree (see the module docstring)."""
    if not root.is_dir():
        raise DataPrepError(f"folder not found: {root}")
    if (root / "train").is_dir() and (root / "val").is_dir():
        if val_fraction is not None:
            raise DataPrepError(
                f"{root} has train/ and val/ folders; --val-fraction only applies to ROOT/<class>/ trees"
            )
        splits = {s: _videos_by_class(root, root / s) for s in ("train", "val", "test") if (root / s).is_dir()}
        unknown = sorted({name for per_class in splits.values() for name in per_class} - set(splits["train"]))
        if unknown:
            print(f"warning: classes with no train folder: {', '.join(unknown)}", file=sys.stderr)
    else:
        by_class = _videos_by_class(root, root)
        fraction = 0.1 if val_fraction is None else val_fraction
        if not 0 <= fraction < 1:
            raise DataPrepError(f"--val-fraction must be in [0, 1), got {fraction}")
        splits = {"train": {}, "val": {}}
        for name, paths in by_class.items():
            splits["train"][name], splits["val"][name] = split_by_fraction(paths, fraction, seed, name)
    classes = sorted({name for per_class in splits.values() for name, paths in per_class.items() if paths})
    if not classes:
        raise DataPrepError(f"no class folders with videos ({', '.join(VIDEO_EXTENSIONS)}) under {root}")
    label = {name: i for i, name in enumerate(classes)}
    rows = {
        split: [(path, label[name]) for name in classes for path in per_class.get(name, [])]
        for split, per_class in splits.items()
    }
    return classes, rows


# --------------------------------------------------------------------------- official annotations
def read_annotations(paths: Sequence[Path]) -> List[dict]:
    """Rows of the official Kinetics csvs, with ``split`` normalised to train / val / test."""
    rows = []
    for path in paths:
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                missing = [c for c in ANNOTATION_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataPrepError(
                        f"{path}: missing column(s) {', '.join(missing)}; expected the header "
                        f"label,youtube_id,time_start,time_end,split, found {reader.fieldnames}"
                    )
                for line, row in enumerate(reader, start=2):
                    split = SPLIT_NAMES.get(row["split"].strip().lower())
                    if split is None:
                        raise DataPrepError(f"{path}:{line}: unknown split {row['split']!r}")
                    rows.append(dict(row, split=split))
        except FileNotFoundError:
            raise DataPrepError(f"annotation file not found: {path}") from None
    return rows


def clip_names(row: dict) -> Tuple[str, str]:
    """The two accepted file stems for an annotation row: with and without the time span."""
    try:
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    except ValueError:
        raise DataPrepError(f"bad time_start/time_end in annotation row {row}") from None
    youtube_id = row["youtube_id"]
    return f"{youtube_id}_{start:06d}_{end:06d}", youtube_id


def index_clips(videos: Path) -> Dict[str, str]:
    """``{file stem: path relative to videos}``; for equal stems the first extension of
    :data:`VIDEO_EXTENSIONS` wins (mp4 before webm before mkv ...)."""
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    found = sorted(list_videos(videos, progress=True), key=lambda p: (rank[p.suffix.lower()], p.as_posix()))
    index = {}
    for rel in found:
        index.setdefault(rel.stem, rel.as_posix())
    return index


def rows_from_annotations(
    annotation_files: Sequence[Path], videos: Path
) -> Tuple[List[str], Dict[str, Rows], List[dict], int]:
    """Classes, per-split rows of the clips found, annotation rows of the missing clips, and the
    number of rows without a label (skipped)."""
    annotations = read_annotations(annotation_files)
    labelled = [row for row in annotations if row.get("label")]
    classes = sorted({row["label"] for row in labelled})
    if not classes:
        raise DataPrepError("the annotation files have no labelled rows")
    label = {name: i for i, name in enumerate(classes)}
    clips = index_clips(videos)
    rows: Dict[str, Rows] = {}
    missing = []
    for row in tqdm(labelled, desc="matching clips", unit=" rows"):
        path = next((clips[name] for name in clip_names(row) if name in clips), None)
        if path is None:
            missing.append(row)
        else:
            rows.setdefault(row["split"], []).append((path, label[row["label"]]))
    if not rows:
        raise DataPrepError(f"none of the {len(labelled)} annotated clips was found under {videos}")
    return classes, rows, missing, len(annotations) - len(labelled)


def write_missing(path: Path, missing: List[dict]) -> None:
    """List missing clips in the official annotation format (header included)."""
    columns = ("label",) + ANNOTATION_COLUMNS
    write_csv(path, columns, ([row[c] for c in columns] for row in missing))


# --------------------------------------------------------------------------- command line
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write PySlowFast Kinetics csvs (train.csv, val.csv, test.csv with 'path label' "
        "lines) and classids.json, from class folders or from the official annotation csvs. "
        "test.csv is a copy of val.csv unless a labelled test split exists.",
        epilog="Paths in the csvs are relative to --from-folders ROOT or --videos DIR: set "
        "DATA.PATH_PREFIX to that folder and DATA.PATH_TO_DATA_DIR to --out.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-folders", type=Path, metavar="ROOT",
                        help="class-per-folder tree: ROOT/{train,val}/<class>/* or ROOT/<class>/*")
    source.add_argument("--annotations", type=Path, action="append", metavar="CSV",
                        help="official Kinetics annotation csv (label,youtube_id,time_start,time_end,split); "
                        "repeatable")
    parser.add_argument("--videos", type=Path, metavar="DIR",
                        help="folder of downloaded clips (with --annotations), searched recursively")
    parser.add_argument("--out", type=Path, required=True, help="output folder for the csvs and classids.json")
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="for ROOT/<class>/* trees: fraction of each class's videos put in val (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split (default: %(default)s)")
    parser.add_argument("--sep", default=" ",
                        help="separator between path and label, as DATA.PATH_LABEL_SEPARATOR (default: a space)")
    args = parser.parse_args(argv)
    if args.annotations and args.videos is None:
        parser.error("--annotations needs --videos")
    if args.from_folders and args.videos is not None:
        parser.error("--videos is only used with --annotations")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.from_folders:
        classes, rows = rows_from_folders(args.from_folders, args.val_fraction, args.seed)
        prefix = args.from_folders
    else:
        classes, rows, missing, unlabelled = rows_from_annotations(args.annotations, args.videos)
        prefix = args.videos
        write_missing(args.out / "missing.txt", missing)
        if unlabelled:
            print(f"skipped {unlabelled} annotation rows without a label (e.g. an unlabelled test split)")
        by_split = {}
        for row in missing:
            by_split[row["split"]] = by_split.get(row["split"], 0) + 1
        counts = ", ".join(f"{n} {split}" for split, n in sorted(by_split.items())) or "none"
        print(f"missing clips: {len(missing)} ({counts}); listed in {args.out / 'missing.txt'}")
    written = write_kinetics_files(args.out, classes, rows, args.sep)
    for split, split_rows in rows.items():
        print(f"{split}: {len(split_rows)} videos")
    print(f"{len(classes)} classes; wrote {', '.join(p.name for p in written)} in {args.out}")
    print(f"use DATA.PATH_TO_DATA_DIR {args.out} DATA.PATH_PREFIX {prefix}")
    return 0


if __name__ == "__main__":
    run_cli(main)
