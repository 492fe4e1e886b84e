"""UCF-101 and HMDB-51 from their official split files: labels, splits, items decoded from AVI, and
errors naming the file and line."""
import os
import shutil

import pytest
import torch

from mutualnet_video.data import DatasetFormatError, build_dataset

from .conftest import tiny_cfg

UCF_CLASSES = ["ApplyEyeMakeup", "Archery", "YoYo"]
HMDB_CLASSES = ["climb_stairs", "brush_hair", "climb"]  # alphabetical: brush_hair, climb, climb_stairs


def place(video: str, prefix, relative: str) -> None:
    os.makedirs(os.path.dirname(os.path.join(prefix, relative)), exist_ok=True)
    shutil.copy(video, os.path.join(prefix, relative))


@pytest.fixture()
def ucf(tmp_path, container_videos):
    """UCF-101 layout: splits/ (classInd, train/test lists 1 and 2, CRLF lines as distributed) and
    videos/<class>/v_<class>_gNN_c01.avi (the MPEG-4 AVI with B-frames)."""
    splits, prefix = tmp_path / "splits", tmp_path / "videos"
    splits.mkdir()
    (splits / "classInd.txt").write_bytes("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)).encode())
    for split, (train_groups, test_groups) in {1: ((8, 9), (1,)), 2: ((1, 9), (8,))}.items():
        train = [f"{c}/v_{c}_g{g:02d}_c01.avi {i + 1}" for i, c in enumerate(UCF_CLASSES) for g in train_groups]
        test = [f"{c}/v_{c}_g{g:02d}_c01.avi" for c in UCF_CLASSES for g in test_groups]
        (splits / f"trainlist{split:02d}.txt").write_bytes("\r\n".join(train).encode() + b"\r\n")
        (splits / f"testlist{split:02d}.txt").write_bytes("\r\n".join(test).encode() + b"\r\n")
    for c in UCF_CLASSES:
        for g in (1, 8, 9):
            place(container_videos["mpeg4_bframes.avi"], prefix, f"{c}/v_{c}_g{g:02d}_c01.avi")
    return str(splits), str(prefix)


def ucf_cfg(ucf, **overrides):
    return tiny_cfg(*ucf, **{"TRAIN.DATASET": "ucf101", "TEST.DATASET": "ucf101", "MODEL.NUM_CLASSES": 3,
                             **overrides})


def test_ucf101_splits_labels_and_items(ucf):
    train = build_dataset(ucf_cfg(ucf), "train")
    assert [(os.path.basename(r.source), r.label) for r in train.records] == [
        (f"v_{c}_g{g:02d}_c01.avi", i) for i, c in enumerate(UCF_CLASSES) for g in (8, 9)]
    frames, label, _, _ = train[5]
    assert frames.shape == (3, 8, 48, 48) and label.item() == 2
    test = build_dataset(ucf_cfg(ucf), "test")
    assert [r.label for r in test.records] == [0, 1, 2] and len(test) == 3 * 6
    assert all("_g01_" in r.source for r in test.records)
    assert test[17][0].shape == (3, 8, 56, 56)
    val = build_dataset(ucf_cfg(ucf), "val")  # UCF-101 has no validation set: the test list
    assert val.records == test.records
    split2 = build_dataset(ucf_cfg(ucf, **{"DATA.SPLIT": 2}), "test")
    assert all("_g08_" in r.source for r in split2.records)


def rewrite(path, old: str, new: str) -> None:
    with open(path, "rb") as f:
        text = f.read().decode()
    with open(path, "wb") as f:
        f.write(text.replace(old, new, 1).encode())


@pytest.mark.parametrize("file, old, new, line, message", [
    ("classInd.txt", "2 Archery", "two Archery", 2, "expected '<index> <class name>'"),
    ("classInd.txt", "3 YoYo", "3 ApplyEyeMakeup", 3, "listed twice"),
    ("classInd.txt", "3 YoYo", "4 YoYo", 3, "outside [0, MODEL.NUM_CLASSES=3)"),
    ("trainlist01.txt", "Archery/v_Archery_g09_c01.avi 2", "Archery/v_Archery_g09_c01.avi 3", 4, "disagrees"),
    ("trainlist01.txt", "YoYo/v_YoYo_g08_c01.avi 3", "Yoyo/v_YoYo_g08_c01.avi 3", 5, "'Yoyo' is not in"),
    ("trainlist01.txt", "YoYo/v_YoYo_g09_c01.avi 3", "YoYo/v_YoYo_g09_c01.avi 3 x", 6, "expected '<class>/"),
    ("trainlist01.txt", "Archery/v_Archery_g08_c01.avi", "Archery/v_Archery_g07_c01.avi", 3, "not found"),
])
def test_ucf101_errors_name_file_and_line(ucf, file, old, new, line, message):
    rewrite(os.path.join(ucf[0], file), old, new)
    with pytest.raises(DatasetFormatError) as info:
        build_dataset(ucf_cfg(ucf), "train")
    assert (os.path.basename(info.value.path), info.value.line) == (file, line)
    assert message in info.value.reason


def test_split_must_be_1_2_or_3(ucf):
    with pytest.raises(ValueError, match="DATA.SPLIT"):
        build_dataset(ucf_cfg(ucf, **{"DATA.SPLIT": 4}), "train")


@pytest.fixture()
def hmdb(tmp_path, container_videos):
    """HMDB-51 layout: splits/<class>_test_split{1,2}.txt (tags 1 / 2 / 0) and videos/<class>/*.avi."""
    splits, prefix = tmp_path / "splits", tmp_path / "videos"
    splits.mkdir()
    for c in HMDB_CLASSES:
        for split in (1, 2):
            tags = {"a": 1, "b": 2, "c": 0} if split == 1 else {"a": 2, "b": 1, "c": 1}
            (splits / f"{c}_test_split{split}.txt").write_text(
                "".join(f"{c}_{name}.avi {tag} \n" for name, tag in tags.items()))
        for name in "abc":
            place(container_videos["mpeg4_bframes.avi"], prefix, f"{c}/{c}_{name}.avi")
    return str(splits), str(prefix)


def hmdb_cfg(hmdb, **overrides):
    return tiny_cfg(*hmdb, **{"TRAIN.DATASET": "hmdb51", "TEST.DATASET": "hmdb51", "MODEL.NUM_CLASSES": 3,
                              **overrides})


def test_hmdb51_tags_labels_and_items(hmdb):
    names = lambda dataset: [(os.path.basename(r.source), r.label) for r in dataset.records]  # noqa: E731
    classes = sorted(HMDB_CLASSES)
    assert classes == ["brush_hair", "climb", "climb_stairs"]
    train = build_dataset(hmdb_cfg(hmdb), "train")
    assert names(train) == [(f"{c}_a.avi", i) for i, c in enumerate(classes)]
    assert names(build_dataset(hmdb_cfg(hmdb), "test")) == [(f"{c}_b.avi", i) for i, c in enumerate(classes)]
    assert names(build_dataset(hmdb_cfg(hmdb, **{"DATA.SPLIT": 2}), "train")) == [
        (f"{c}_{n}.avi", i) for i, c in enumerate(classes) for n in "bc"]
    frames, label, _, _ = train[2]
    assert frames.shape == (3, 8, 48, 48) and label.item() == 2 and torch.isfinite(frames).all()


@pytest.mark.parametrize("old, new, line, message", [
    ("climb_b.avi 2", "climb_b.avi 3", 2, "tag 0, 1 or 2"),
    ("climb_c.avi 0", "climb_c.avi", 3, "tag 0, 1 or 2"),
    ("climb_a.avi 1", "climb_z.avi 1", 1, "not found"),
])
def test_hmdb51_errors_name_file_and_line(hmdb, old, new, line, message):
    rewrite(os.path.join(hmdb[0], "climb_test_split1.txt"), old, new)
    with pytest.raises(DatasetFormatError) as info:
        build_dataset(hmdb_cfg(hmdb), "train")
    assert (os.path.basename(info.value.path), info.value.line) == ("climb_test_split1.txt", line)
    assert message in info.value.reason


def test_hmdb51_needs_split_files_and_enough_classes(hmdb, tmp_path):
    with pytest.raises(DatasetFormatError, match="no HMDB-51 split files"):
        build_dataset(hmdb_cfg((str(tmp_path / "videos"), hmdb[1])), "train")
    with pytest.raises(DatasetFormatError, match="outside"):
        build_dataset(hmdb_cfg(hmdb, **{"MODEL.NUM_CLASSES": 2}), "train")
