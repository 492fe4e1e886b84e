"""Reading annotation files (csv lists, split lists, json) with errors that name the file and line.

Every problem found while reading (a malformed line, a label outside ``[0, num_classes)``, a json
entry without its fields) raises ``DatasetFormatError`` at data set construction, never later.
"""
import json
import os
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Tuple


class DatasetFormatError(ValueError):
    """An annotation file is malformed: ``path``, ``line`` (1-based, 0 if unknown) and ``reason``."""

    def __init__(self, path: str, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason

    def __reduce__(self):
        return DatasetFormatError, (self.path, self.line, self.reason)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise DatasetFormatError(path, 0, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetFormatError(path, 0, f"cannot read: {e}") from None


def check_label(label: Any, num_classes: int, path: str, line: int) -> int:
    """``label`` as an int in ``[0, num_classes)``, else ``DatasetFormatError``."""
    try:
        value = int(str(label).strip())
    except ValueError:
        raise DatasetFormatError(path, line, f"label {label!r} is not an integer") from None
    if not 0 <= value < num_classes:
        raise DatasetFormatError(path, line, f"label {value} outside [0, MODEL.NUM_CLASSES={num_classes})")
    return value


def read_path_label_csv(path: str, separator: str, num_classes: int) -> List[Tuple[str, int, int]]:
    """``(video path, label, line number)`` per line of a PySlowFast ``path<sep>label`` list.

    The label is the last field, so paths may contain the separator. Blank lines are skipped.
    """
    entries = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.strip().rsplit(separator, 1) if separator.strip() else line.strip().rsplit(None, 1)
        if len(fields) != 2 or not fields[0].strip():
            raise DatasetFormatError(
                path, number, f"expected 'path{separator}label' (DATA.PATH_LABEL_SEPARATOR={separator!r}), "
                f"got {line!r}"
            )
        entries.append((fields[0].strip(), check_label(fields[1], num_classes, path, number), number))
    return entries


OFFICIAL_SPLITS = (1, 2, 3)  # UCF-101 and HMDB-51 publish three train / test splits


def split_number(cfg) -> int:
    """``DATA.SPLIT``: which official split (1, 2 or 3) to read; ``ValueError`` otherwise."""
    if cfg.DATA.SPLIT not in OFFICIAL_SPLITS:
        raise ValueError(f"DATA.SPLIT must be one of {OFFICIAL_SPLITS}, got {cfg.DATA.SPLIT!r}")
    return cfg.DATA.SPLIT


def iter_fields(path: str) -> Iterator[Tuple[int, List[str], str]]:
    """``(line number, whitespace-separated fields, line)`` per non-blank line of a text file."""
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            yield number, line.split(), line


def existing_video(prefix: str, video: str, path: str, line: int) -> str:
    """``video`` joined to ``prefix``; ``DatasetFormatError`` naming ``path:line`` if no such file."""
    full = os.path.join(prefix, video)
    if not os.path.isfile(full):
        raise DatasetFormatError(path, line, f"listed video {full} not found (DATA.PATH_PREFIX={prefix!r})")
    return full


FRAME_LIST_HEADER = ("original_vido_id", "original_video_id")  # PySlowFast's spelling, and the fixed one


def read_frame_list_csv(path: str, prefix: str) -> "OrderedDict[str, List[str]]":
    """Frame paths per video from PySlowFast's frame list (space-separated, one header line).

    Columns: ``original_vido_id video_id frame_id path labels``; frames keep the file's order and
    paths are joined to ``prefix``.
    """
    lines = _read_text(path).splitlines()
    if not lines or not lines[0].startswith(FRAME_LIST_HEADER):
        raise DatasetFormatError(path, 1, "expected the header 'original_vido_id video_id frame_id path labels'")
    videos: "OrderedDict[str, List[str]]" = OrderedDict()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = line.split()
        if len(row) != 5:
            raise DatasetFormatError(
                path, number, f"expected 5 space-separated fields "
                f"(original_vido_id video_id frame_id path labels), got {len(row)}: {line!r}"
            )
        videos.setdefault(row[0], []).append(os.path.join(prefix, row[3]))
    return videos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def iter_json_items(path: str) -> Iterator[Tuple[Any, Any, int]]:
    """``(key, value, line)`` for each item of a json object, or ``(position, value, line)`` for an array.

    Malformed json raises ``DatasetFormatError`` with the line of the error.
    """
    text = _read_text(path)
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if pos == len(text) or text[pos] not in "[{":
        raise DatasetFormatError(path, _line_of(text, pos), "expected a json array or object")
    is_object, close = text[pos] == "{", "]}"[text[pos] == "{"]
    pos, position = _skip_space(text, pos + 1), 0
    try:
        while text[pos : pos + 1] != close:
            if position:
                if text[pos : pos + 1] != ",":
                    raise json.JSONDecodeError("expected ',' between items", text, pos)
                pos = _skip_space(text, pos + 1)
            line = _line_of(text, pos)
            key = position
            if is_object:
                key, pos = decoder.raw_decode(text, pos)
                if not isinstance(key, str):
                    raise json.JSONDecodeError("expected a string key", text, pos)
                pos = _skip_space(text, pos)
                if text[pos : pos + 1] != ":":
                    raise json.JSONDecodeError("expected ':' after key", text, pos)
                pos = _skip_space(text, pos + 1)
            value, pos = decoder.raw_decode(text, pos)
            yield key, value, line
            pos, position = _skip_space(text, pos), position + 1
    except json.JSONDecodeError as e:
        raise DatasetFormatError(path, e.lineno, f"malformed json: {e.msg}") from None
    end = _skip_space(text, pos + 1)
    if end != len(text):
        raise DatasetFormatError(path, _line_of(text, end), "malformed json: extra data after the end")


def read_json_dict(path: str) -> Dict[str, Tuple[Any, int]]:
    """``{key: (value, line)}`` of a json object file."""
    items = {}
    for key, value, line in iter_json_items(path):
        if isinstance(key, int):
            raise DatasetFormatError(path, line, "expected a json object, got an array")
        items[key] = (value, line)
    return items
