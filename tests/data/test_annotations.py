"""Annotation files: Kinetics csv and SSv2 json / frame lists, and errors naming file and line."""
import json
import os

import pytest

from mutualnet_video.data import DatasetFormatError, build_dataset
from mutualnet_video.data.annotations import iter_json_items, read_frame_list_csv, read_path_label_csv

from .conftest import tiny_cfg


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_kinetics_csv(tmp_path):
    path = write(tmp_path / "train.csv", "a.mp4 0\n\nsub dir/b c.mp4 4\n")
    assert read_path_label_csv(path, " ", 5) == [("a.mp4", 0, 1), ("sub dir/b c.mp4", 4, 3)]
    path = write(tmp_path / "comma.csv", "a b.mp4,3\n")
    assert read_path_label_csv(path, ",", 5) == [("a b.mp4", 3, 1)]


@pytest.mark.parametrize("text, line, message", [
    ("a.mp4 0\nb.mp4\n", 2, "expected 'path label'"),
    ("a.mp4 0\nb.mp4 x\n", 2, "is not an integer"),
    ("a.mp4 0\nb.mp4 1\nc.mp4 5\n", 3, "label 5 outside [0, MODEL.NUM_CLASSES=5)"),
    ("a.mp4 -1\n", 1, "outside"),
])
def test_kinetics_csv_errors_name_file_and_line(tmp_path, text, line, message):
    write(tmp_path / "train.csv", text)
    with pytest.raises(DatasetFormatError) as info:
        build_dataset(tiny_cfg(str(tmp_path)), "train")
    error = info.value
    assert (error.path, error.line) == (str(tmp_path / "train.csv"), line)
    assert message in str(error) and f"train.csv:{line}:" in str(error)


def test_missing_or_empty_list(tmp_path):
    with pytest.raises(DatasetFormatError, match="val.csv: file not found"):
        build_dataset(tiny_cfg(str(tmp_path)), "val")
    write(tmp_path / "test.csv", "\n")
    with pytest.raises(DatasetFormatError, match="no videos listed"):
        build_dataset(tiny_cfg(str(tmp_path)), "test")


def test_json_items_with_lines(tmp_path):
    path = write(tmp_path / "a.json", '[\n  {"id": 1},\n\n  {"id": 2}\n]\n')
    assert list(iter_json_items(path)) == [(0, {"id": 1}, 2), (1, {"id": 2}, 4)]
    path = write(tmp_path / "b.json", '{"x": "0",\n "y": "1"}')
    assert list(iter_json_items(path)) == [("x", "0", 1), ("y", "1", 2)]


@pytest.mark.parametrize("text, line", [
    ('[\n {"id": 1},\n {"id": 2,}\n]', 3),
    ('[\n {"id": 1}\n {"id": 2}\n]', 3),
    ('[\n {"id": 1},\n', 3),
    ('{"a": 1,\n "b" 2}', 2),
    ('[1]\n[2]', 2),
    ('"text"', 1),
])
def test_malformed_json_line_numbers(tmp_path, text, line):
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(DatasetFormatError) as info:
        list(iter_json_items(path))
    assert info.value.line == line and str(info.value).startswith(f"{path}:{line}: ")


def test_ssv2_records_from_json_and_videos(ssv2_dir):
    cfg = tiny_cfg(ssv2_dir, ssv2_dir, **{"TRAIN.DATASET": "ssv2", "DATA.RANDOM_FLIP": False})
    dataset = build_dataset(cfg, "train")
    assert [r.label for r in dataset.records] == [0, 1, 2]  # [ ] stripped from the templates
    assert [r.source for r in dataset.records] == [os.path.join(ssv2_dir, f"{i}.webm") for i in (101, 102, 103)]
    assert dataset.temporal.rule == "segment"


def test_ssv2_records_from_frame_lists(ssv2_dir):
    cfg = tiny_cfg(ssv2_dir, ssv2_dir, **{"TEST.DATASET": "ssv2", "DATA.USE_FRAMES": True})
    dataset = build_dataset(cfg, "test")
    first = dataset.records[0].source
    assert isinstance(first, tuple) and len(first) == 24
    assert first[0] == os.path.join(ssv2_dir, "frames/101/101_000001.jpg")
    frames = read_frame_list_csv(os.path.join(ssv2_dir, "val.csv"), "")
    assert list(frames) == ["101", "102", "103"]


def ssv2_copy(tmp_path, ssv2_dir):
    for name in os.listdir(ssv2_dir):
        if name.endswith((".json", ".csv")):
            with open(os.path.join(ssv2_dir, name)) as src:
                write(tmp_path / name, src.read())
    return tiny_cfg(str(tmp_path), ssv2_dir, **{"TRAIN.DATASET": "ssv2", "DATA.RANDOM_FLIP": False})


def test_ssv2_errors_name_file_and_line(tmp_path, ssv2_dir):
    cfg = ssv2_copy(tmp_path, ssv2_dir)
    train_json = tmp_path / "something-something-v2-train.json"
    entries = json.loads(train_json.read_text())
    entries[1]["template"] = "Spinning [something]"
    write(train_json, "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    with pytest.raises(DatasetFormatError, match=r"train.json:3: template 'Spinning something' is not in"):
        build_dataset(cfg, "train")
    del entries[1]["template"]
    write(train_json, "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    with pytest.raises(DatasetFormatError, match=r"train.json:3: each video needs 'id' and 'template'"):
        build_dataset(cfg, "train")
    labels = tmp_path / "something-something-v2-labels.json"
    write(labels, labels.read_text().replace('"2"', '"174"'))
    with pytest.raises(DatasetFormatError, match=r"labels.json:4: label 174 outside"):
        build_dataset(cfg, "train")


def test_ssv2_frame_list_errors(tmp_path, ssv2_dir):
    cfg = ssv2_copy(tmp_path, ssv2_dir)
    cfg.DATA.USE_FRAMES = True
    lines = (tmp_path / "train.csv").read_text().splitlines()
    write(tmp_path / "train.csv", "\n".join(lines[:5] + ["101 0 4 frames/x.jpg"] + lines[5:]))
    with pytest.raises(DatasetFormatError, match=r"train.csv:6: expected 5 space-separated fields"):
        build_dataset(cfg, "train")
    write(tmp_path / "train.csv", "\n".join(lines[1:]))
    with pytest.raises(DatasetFormatError, match=r"train.csv:1: expected the header"):
        build_dataset(cfg, "train")


def test_ssv2_videos_without_frames_are_left_out(tmp_path, ssv2_dir, caplog):
    cfg = ssv2_copy(tmp_path, ssv2_dir)
    cfg.DATA.USE_FRAMES = True
    lines = (tmp_path / "train.csv").read_text().splitlines()
    write(tmp_path / "train.csv", "\n".join(line for line in lines if not line.startswith("102 ")))
    dataset = build_dataset(cfg, "train")
    assert [r.label for r in dataset.records] == [0, 2]
    assert "1 of 3 SSv2 train videos have no frames" in caplog.text


def test_unknown_dataset_and_split(kinetics_dir):
    with pytest.raises(ValueError, match="TRAIN.DATASET must be one of"):
        build_dataset(tiny_cfg(kinetics_dir, **{"TRAIN.DATASET": "ava"}), "train")
    with pytest.raises(ValueError, match="split must be one of"):
        build_dataset(tiny_cfg(kinetics_dir), "validation")
