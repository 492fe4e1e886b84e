"""The package's one way to write an output file: completely or not at all.

Every file a later run reads back (checkpoints, the BN bank, ``curve.json`` / ``curve.csv``, the
query table, the bundle manifest, data-prep outputs) is written to ``.<name>.part`` beside it and
renamed over it when complete, so a run killed mid-write leaves the previous version (or nothing),
never a half file that a resumed run cannot parse. A leftover ``.part`` from a killed run is removed
by the next write.

    with atomic_output("out/curve.csv") as tmp:   # tmp: Path("out/.curve.csv.part")
        tmp.write_text(...)
    write_json("out/curve.json", rows)
"""
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Union

PART_SUFFIX = ".part"

PathLike = Union[str, Path]


def part_path(path: PathLike) -> Path:
    """The temporary name used while ``path`` is being written: ``<dir>/.<name>.part``."""
    path = Path(path)
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _fsync(path: Path) -> None:
    """Flush a written file, or a folder's entries, to disk (best effort where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` (a file or a folder) to; rename it when done.

    A leftover temporary from a killed run is removed first; on an exception the temporary is
    removed and the exception propagates, so ``path`` only ever exists complete. A written file is
    fsynced before the rename and the folder after it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(path)
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_file():
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync(path.parent)


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_lines(path: PathLike, lines: Iterable[str]) -> None:
    """Write one line per item (``\\n``-terminated) atomically."""
    write_text(path, "".join(line + "\n" for line in lines))


def write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (keys in insertion order)."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
