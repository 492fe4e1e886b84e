"""End-to-end tests of the data_prep scripts on tiny videos made with PyAV."""
import csv
import dataclasses
import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from data_prep.build_ssv2 import FRAME_LIST_HEADER, JpegWriter, resample
from data_prep.common import DataPrepError, encode_h264, part_path
from data_prep.make_synthetic import (
    BACKGROUND_CONTRAST, BACKGROUND_MAX, CLASSES, MAX_SPEED, SHAPE_MIN, make_synthetic, max_step_ratio, sample_clip,
)
from data_prep.resize_videos import target_size

DATA_PREP = Path(__file__).resolve().parents[1] / "data_prep"
SCRIPTS = ("resize_videos", "build_kinetics_csv", "build_ssv2", "scan_dataset", "make_synthetic")


# --------------------------------------------------------------------------- helpers
def run_script(name, *args, expect=0):
    """Run ``data_prep/<name>.py`` in a subprocess; check its exit status; return the result."""
    result = subprocess.run([sys.executable, str(DATA_PREP / f"{name}.py"), *map(str, args)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def gradient_frames(count, height, width):
    """``count`` distinct RGB frames: a moving gradient."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([(x * 4 + 9 * t) % 256, (y * 4) % 256, np.full_like(x, 7 * t % 256)], -1)
                     for t in range(count)]).astype(np.uint8)


def write_video(path, frames, fps=15, codec="libx264", container_format="mp4", rotation=None, faststart=False):
    """Encode RGB ``frames`` (T, H, W, 3) with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def decode(path):
    """All frames of a video as RGB ``uint8`` (T, H, W, 3), and the stream's frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)]), stream.average_rate


def read_lines(path):
    return Path(path).read_text().splitlines()


# --------------------------------------------------------------------------- every script
@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    out = run_script(script, "--help").stdout
    assert out.startswith("usage:") and len(out) > 300


# --------------------------------------------------------------------------- resize_videos
def test_target_size():
    assert target_size(320, 240, 160) == (214, 160)  # 213.3 -> nearest even
    assert target_size(240, 320, 160) == (160, 214)  # portrait: the width is the short side
    assert target_size(100, 60, 120) == (200, 120)  # upscale
    assert target_size(101, 61, 120, no_upscale=True) == (100, 60)  # kept, rounded down to even


def test_resize_videos(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_video(src / "a" / "landscape.mp4", gradient_frames(6, 48, 96), fps=25)
    write_video(src / "portrait.webm", gradient_frames(5, 96, 48), fps=12, codec="libvpx-vp9",
                container_format="webm")
    marked = np.zeros((4, 32, 64, 3), np.uint8)
    marked[:, :16, :16] = 255  # stored top-left corner
    write_video(src / "phone.mov", marked, container_format="mov", rotation=90)
    (src / "notes.txt").write_text("not a video")

    out = run_script("resize_videos", src, dst, "--short-side", 32, "--jobs", 2).stdout
    assert "3 resized, 0 already done, 0 failed" in out
    landscape, fps = decode(dst / "a" / "landscape.mp4")
    assert landscape.shape == (6, 32, 64, 3) and fps == 25
    portrait, fps = decode(dst / "portrait.mp4")
    assert portrait.shape == (5, 64, 32, 3) and fps == 12
    # display rotation 90 (counter-clockwise) is applied to the pixels: stored 64x32 is upright
    # 32x64 (already at the short side), and the stored top-left corner is now bottom-left
    phone, _ = decode(dst / "phone.mp4")
    assert phone.shape == (4, 64, 32, 3)
    with av.open(str(dst / "phone.mp4")) as container:
        assert next(container.decode(video=0)).rotation == 0
    assert phone[:, 52:, :12].mean() > 200 and phone[:, :12, :12].mean() < 50

    # resumable: a second run skips everything ...
    mtime = (dst / "portrait.mp4").stat().st_mtime_ns
    assert "0 resized, 3 already done" in run_script("resize_videos", src, dst, "--short-side", 32).stdout
    assert (dst / "portrait.mp4").stat().st_mtime_ns == mtime
    # ... and a half-written temporary from a killed run is not taken as done
    (dst / "portrait.mp4").unlink()
    part_path(dst / "portrait.mp4").write_bytes(b"\x00" * 100)
    assert "1 resized, 2 already done" in run_script("resize_videos", src, dst, "--short-side", 32).stdout
    assert decode(dst / "portrait.mp4")[0].shape == (5, 64, 32, 3)
    assert not part_path(dst / "portrait.mp4").exists()


def test_resize_videos_failure(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_video(src / "good.mp4", gradient_frames(3, 32, 48))
    (src / "broken.mp4").write_text("this is text, not a video")
    result = run_script("resize_videos", src, dst, "--short-side", 16, "--jobs", 1, expect=1)
    assert "broken.mp4" in result.stderr and "1 of 2 videos failed" in result.stderr
    assert (dst / "good.mp4").exists()
    assert sorted(p.name for p in dst.iterdir()) == ["good.mp4"]  # no output, no leftover temporary
    assert "not found" in run_script("resize_videos", tmp_path / "nope", dst, expect=1).stderr


# --------------------------------------------------------------------------- build_kinetics_csv
def test_kinetics_csv_from_split_folders(tmp_path):
    root = tmp_path / "k"
    for rel in ("train/zebra/z1.mp4", "train/ant/a1.mp4", "train/ant/sub/a2.webm", "val/ant/a3.mkv",
                "val/zebra/z2.mp4", "train/ant/readme.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    out = tmp_path / "csv"
    result = run_script("build_kinetics_csv", "--from-folders", root, "--out", out)
    assert f"DATA.PATH_PREFIX {root}" in result.stdout
    assert read_lines(out / "train.csv") == ["train/ant/a1.mp4 0", "train/ant/sub/a2.webm 0", "train/zebra/z1.mp4 1"]
    assert read_lines(out / "val.csv") == ["val/ant/a3.mkv 0", "val/zebra/z2.mp4 1"]
    assert (out / "test.csv").read_bytes() == (out / "val.csv").read_bytes()
    assert json.loads((out / "classids.json").read_text()) == {"ant": 0, "zebra": 1}


def test_kinetics_csv_from_class_folders_split(tmp_path):
    root = tmp_path / "k"
    for name in ("cat", "dog"):
        for i in range(10):
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / f"{name}{i}.mp4").write_bytes(b"x")
    args = ("--from-folders", root, "--val-fraction", 0.3)
    run_script("build_kinetics_csv", *args, "--out", tmp_path / "a")
    run_script("build_kinetics_csv", *args, "--out", tmp_path / "b")
    run_script("build_kinetics_csv", *args, "--out", tmp_path / "c", "--seed", 1)
    train, val = read_lines(tmp_path / "a" / "train.csv"), read_lines(tmp_path / "a" / "val.csv")
    assert len(train) == 14 and len(val) == 6  # 3 of each class in val
    assert sorted(train + val) == sorted(f"{n}/{n}{i}.mp4 {label}" for label, n in enumerate(("cat", "dog"))
                                         for i in range(10))
    assert val == read_lines(tmp_path / "b" / "val.csv")  # deterministic
    assert val != read_lines(tmp_path / "c" / "val.csv")  # depends on the seed
    for rel in train + val:
        assert (root / rel.split(" ")[0]).is_file()  # relative to ROOT


def test_kinetics_csv_rejects_separator_in_paths(tmp_path):
    (tmp_path / "k" / "air drumming").mkdir(parents=True)
    (tmp_path / "k" / "air drumming" / "a.mp4").write_bytes(b"x")
    err = run_script("build_kinetics_csv", "--from-folders", tmp_path / "k", "--out", tmp_path / "o", expect=1).stderr
    assert "separator" in err and "--sep" in err
    run_script("build_kinetics_csv", "--from-folders", tmp_path / "k", "--out", tmp_path / "o", "--sep", ",",
               "--val-fraction", 0)
    assert read_lines(tmp_path / "o" / "train.csv") == ["air drumming/a.mp4,0"]


def test_kinetics_csv_from_annotations(tmp_path):
    clips = tmp_path / "clips"
    for rel in ("train/air_drumming/abc_000010_000020.mp4", "train/yawning/-x_y_000001_000011.webm",
                "val/xyz.mkv"):
        (clips / rel).parent.mkdir(parents=True, exist_ok=True)
        (clips / rel).write_bytes(b"x")
    train_csv, val_csv = tmp_path / "kinetics400_train.csv", tmp_path / "kinetics400_val.csv"
    train_csv.write_text("label,youtube_id,time_start,time_end,split\n"
                         "air drumming,abc,10,20,train\n"
                         "yawning,-x_y,1,11,train\n"
                         '"zumba, fitness",gone,5,15,train\n')
    val_csv.write_text("label,youtube_id,time_start,time_end,split\n"
                       "yawning,xyz,30,40,val\n"
                       "air drumming,lost,0,10,val\n")
    out = tmp_path / "csv"
    result = run_script("build_kinetics_csv", "--annotations", train_csv, "--annotations", val_csv,
                        "--videos", clips, "--out", out)
    assert "missing clips: 2 (1 train, 1 val)" in result.stdout
    assert json.loads((out / "classids.json").read_text()) == {"air drumming": 0, "yawning": 1, "zumba, fitness": 2}
    assert read_lines(out / "train.csv") == ["train/air_drumming/abc_000010_000020.mp4 0",
                                             "train/yawning/-x_y_000001_000011.webm 1"]
    assert read_lines(out / "val.csv") == ["val/xyz.mkv 1"] == read_lines(out / "test.csv")
    with open(out / "missing.txt", newline="") as f:
        missing = list(csv.DictReader(f))
    assert [(m["label"], m["youtube_id"], m["split"]) for m in missing] == [
        ("zumba, fitness", "gone", "train"), ("air drumming", "lost", "val")]

    bad = tmp_path / "bad.csv"
    bad.write_text("name,id\nx,y\n")
    err = run_script("build_kinetics_csv", "--annotations", bad, "--videos", clips, "--out", out, expect=1).stderr
    assert "missing column" in err
    assert "needs --videos" in run_script("build_kinetics_csv", "--annotations", bad, "--out", out, expect=2).stderr


# --------------------------------------------------------------------------- build_ssv2
@pytest.fixture
def ssv2_files(tmp_path):
    videos = tmp_path / "videos"
    for video_id, count in (("11", 12), ("12", 6), ("21", 9)):
        write_video(videos / f"{video_id}.webm", gradient_frames(count, 32, 48), fps=12,
                    codec="libvpx-vp9", container_format="webm")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"Holding something": "1", "Pushing something from left to right": "0"}))

    def entry(video_id, template):
        return {"id": video_id, "label": "x", "template": template, "placeholders": ["x"]}

    train = tmp_path / "train.json"
    train.write_text(json.dumps([entry("11", "Pushing [something] from left to right"),
                                 entry("12", "Holding [something]"),
                                 entry("13", "Holding [something]"),  # no video
                                 entry("14", "Tearing [something] into pieces")]))  # unknown template
    val = tmp_path / "val.json"
    val.write_text(json.dumps([entry("21", "Holding [something]")]))
    return SimpleNamespace(videos=videos, labels=labels, train=train, val=val)


def test_ssv2_check_and_frames(tmp_path, ssv2_files):
    out, frames = tmp_path / "out", tmp_path / "frames"
    args = ("--labels", ssv2_files.labels, "--train", ssv2_files.train, "--val", ssv2_files.val,
            "--videos", ssv2_files.videos, "--out", out, "--extract-frames", frames, "--fps", 30, "--jobs", 2)
    result = run_script("build_ssv2", *args)
    assert "train: 2 videos kept, 1 with an unknown template, 1 missing .webm" in result.stdout
    assert "val: 1 videos kept, 0 with an unknown template, 0 missing .webm" in result.stdout
    assert json.loads((out / "something-something-v2-labels.json").read_text()) == {
        "Pushing something from left to right": "0", "Holding something": "1"}
    assert [e["id"] for e in json.loads((out / "something-something-v2-train.json").read_text())] == ["11", "12"]
    assert [e["id"] for e in json.loads((out / "something-something-v2-validation.json").read_text())] == ["21"]
    assert read_lines(out / "missing.txt") == ["train 13"]
    assert read_lines(out / "unknown_templates.txt") == ["train 14 Tearing [something] into pieces"]

    # 12 frames at 12 fps = 1 s -> 30 frames at 30 fps; 6 -> 15; 9 -> 22 or 23
    assert len(list((frames / "11").glob("*.jpg"))) == 30
    assert len(list((frames / "12").glob("*.jpg"))) == 15
    lines = read_lines(out / "train.csv")
    assert lines[0] == FRAME_LIST_HEADER == "original_vido_id video_id frame_id path labels"
    assert lines[1] == "11 0 0 11/11_000001.jpg 0" and lines[30] == "11 0 29 11/11_000030.jpg 0"
    assert lines[31] == "12 1 0 12/12_000001.jpg 1" and len(lines) == 1 + 30 + 15
    assert all(len(line.split(" ")) == 5 and (frames / line.split(" ")[3]).is_file() for line in lines[1:])
    val_lines = read_lines(out / "val.csv")
    assert len(val_lines) - 1 == len(list((frames / "21").glob("*.jpg"))) in (22, 23)
    image = av.open(str(frames / "11" / "11_000001.jpg"))
    assert next(image.decode(video=0)).width == 48

    # resumable per video: finished folders are kept, a leftover temporary is redone
    shutil.rmtree(frames / "12")
    (frames / ".12.part").mkdir()
    (frames / ".12.part" / "12_000001.jpg").write_bytes(b"partial")
    mtime = (frames / "11" / "11_000001.jpg").stat().st_mtime_ns
    run_script("build_ssv2", *args)
    assert (frames / "11" / "11_000001.jpg").stat().st_mtime_ns == mtime
    assert len(list((frames / "12").glob("*.jpg"))) == 15 and not (frames / ".12.part").exists()
    assert read_lines(out / "train.csv") == lines


def test_ssv2_errors(tmp_path, ssv2_files):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    base = ("--train", ssv2_files.train, "--val", ssv2_files.val, "--videos", ssv2_files.videos, "--out", tmp_path / "o")
    assert "not valid JSON" in run_script("build_ssv2", "--labels", broken, *base, expect=1).stderr
    assert "file not found" in run_script("build_ssv2", "--labels", tmp_path / "nope.json", *base, expect=1).stderr


def test_resample_to_fixed_fps():
    def frames(times, time_base=Fraction(1, 1000)):
        return [SimpleNamespace(pts=t, time_base=time_base, index=i) for i, t in enumerate(times)]

    twelve_fps = frames([round(1000 * i / 12) for i in range(12)])  # millisecond timestamps, 1 s
    out = [f.index for f in resample(iter(twelve_fps), 30)]
    assert len(out) == 30 and out == sorted(out) and set(out) == set(range(12))
    assert [f.index for f in resample(iter(twelve_fps), 0)] == list(range(12))
    assert len(list(resample(iter(twelve_fps), 6))) == 6  # down-sampling drops frames
    assert len(list(resample(iter(frames([0])), 30))) == 1


def test_jpeg_writer_without_pillow(tmp_path):
    frame = av.VideoFrame.from_ndarray(gradient_frames(1, 32, 48)[0], format="rgb24")
    for use_pillow in (True, False):
        path = tmp_path / f"pillow_{use_pillow}.jpg"
        JpegWriter(90, use_pillow=use_pillow).save(frame, path)
        with av.open(str(path)) as image:
            decoded = next(image.decode(video=0)).to_ndarray(format="rgb24")
        assert decoded.shape == (32, 48, 3)
        assert np.abs(decoded.astype(int) - frame.to_ndarray().astype(int)).mean() < 8


# --------------------------------------------------------------------------- scan_dataset
@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_scan_dataset(tmp_path, backend):
    root = tmp_path / "videos"
    frames = gradient_frames(45, 32, 48)
    write_video(root / "good.mp4", frames, fps=15)
    write_video(root / "good.webm", frames, fps=15, codec="libvpx-vp9", container_format="webm")
    write_video(root / "faststart.mp4", frames, fps=15, faststart=True)
    for name in ("good.mp4", "faststart.mp4", "good.webm"):  # cut in half
        data = (root / name).read_bytes()
        (root / f"cut_{name}").write_bytes(data[: len(data) // 2])
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("just some text\n" * 20)
    names = ["good.mp4", "good.webm", "faststart.mp4", "cut_good.mp4", "cut_faststart.mp4", "cut_good.webm",
             "empty.mp4", "notes.mp4", "absent.mp4"]
    listing = tmp_path / "train.csv"
    listing.write_text("".join(f"{name} {i % 3}\n" for i, name in enumerate(names)))
    report, cleaned = tmp_path / "bad.csv", tmp_path / "clean.csv"
    out = run_script("scan_dataset", "--csv", listing, "--prefix", root, "--backend", backend,
                     "--report", report, "--cleaned", cleaned, "--jobs", 2).stdout
    assert "scanned 9 videos: 6 bad, 3 good" in out
    with open(report, newline="") as f:
        reasons = {row["path"]: row["reason"] for row in csv.DictReader(f)}
    assert set(reasons) == set(names[3:])
    assert reasons["empty.mp4"] == "empty file" and reasons["absent.mp4"] == "missing file"
    assert reasons["cut_good.webm"].startswith("truncated")
    assert reasons["notes.mp4"].startswith("not a video")
    assert read_lines(cleaned) == ["good.mp4 0", "good.webm 1", "faststart.mp4 2"]


@pytest.fixture()
def avi_listing(tmp_path):
    """A csv of an MPEG-4 Part 2 AVI with B-frames and keyframes on consecutive frames (Xvid style) and an
    open-GOP H.264 mp4: files the readers once misread (issue #13)."""
    from mutualnet_video.data.synthetic import moving_pattern, write_video as encode

    root = tmp_path / "videos"
    root.mkdir()
    encode(str(root / "xvid.avi"), moving_pattern(40, 64, 48), 25, "mpeg4", {"bf": "2", "g": "12"},
           keyframes=(0, 1, 20, 21))
    encode(str(root / "open_gop.mp4"), moving_pattern(40, 64, 48), 25, "libx264",
           {"x264-params": "bframes=3:b-adapt=0:keyint=12:min-keyint=12:scenecut=0:open-gop=1"})
    listing = tmp_path / "train.csv"
    listing.write_text("xvid.avi 0\nopen_gop.mp4 1\n")
    return listing, root


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_scan_dataset_random_access_is_frame_exact(avi_listing, backend):
    listing, root = avi_listing
    out = run_script("scan_dataset", "--csv", listing, "--prefix", root, "--backend", backend, "--jobs", 1).stdout
    assert "scanned 2 videos: 0 bad, 2 good" in out


def test_scan_dataset_reports_misread_files(avi_listing, tmp_path, monkeypatch, capsys):
    """With decord trusted on every file (as before issue #13), the scan finds the frames it misreads."""
    from data_prep import scan_dataset
    from mutualnet_video.data import decoders

    monkeypatch.setattr(decoders, "decord_hazard", lambda index: None)
    listing, root = avi_listing
    report = tmp_path / "bad.csv"
    assert scan_dataset.main(["--csv", str(listing), "--prefix", str(root), "--backend", "decord", "--jobs", "1",
                              "--report", str(report)]) == 0
    assert "scanned 2 videos: 2 bad, 0 good" in capsys.readouterr().out
    with open(report, newline="") as f:
        reasons = {row["path"]: row["reason"] for row in csv.DictReader(f)}
    assert set(reasons) == {"xvid.avi", "open_gop.mp4"}
    assert all(r.startswith("misread by decord: frame ") and "is not frame" in r for r in reasons.values()), reasons
    assert scan_dataset.main(["--csv", str(listing), "--prefix", str(root), "--backend", "decord", "--jobs", "1",
                              "--exact-frames", "0"]) == 0
    assert "0 bad, 2 good" in capsys.readouterr().out  # the check is what finds them


# --------------------------------------------------------------------------- make_synthetic
SMALL = dict(num_classes=4, train_per_class=2, val_per_class=1, test_per_class=1, frames=16, size=48, fps=15)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic") / "a", seed=0, jobs=2, **SMALL)


def test_make_synthetic_layout(synthetic):
    root = synthetic.root
    assert synthetic.classes == ("disc_down", "disc_left", "disc_right", "disc_up")
    assert json.loads(synthetic.classids_json.read_text()) == {c: i for i, c in enumerate(synthetic.classes)}
    train, val, test = (read_lines(p) for p in (synthetic.train_csv, synthetic.val_csv, synthetic.test_csv))
    assert len(train) == 8 and train[0] == "videos/disc_down/train_000.mp4 0"
    assert len(val) == 4 and len(test) == 4 and val[0] == "videos/disc_down/val_000.mp4 0"
    assert not {line.split()[0] for line in train} & {line.split()[0] for line in val + test}
    assert not {line.split()[0] for line in val} & {line.split()[0] for line in test}  # three disjoint splits
    for line in train + val + test:
        path, label = line.split(" ")
        assert path.split("/")[1] == synthetic.classes[int(label)]
        assert (root / path).is_file()
    with av.open(str(root / "videos/disc_up/test_000.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
    frames, fps = decode(root / "videos/disc_up/val_000.mp4")
    assert frames.shape == (16, 48, 48, 3) and fps == 15


def test_make_synthetic_deterministic(synthetic, tmp_path):
    again = make_synthetic(tmp_path / "b", seed=0, jobs=1, **SMALL)
    other = make_synthetic(tmp_path / "c", seed=1, jobs=1, **SMALL)
    for name in ("train.csv", "val.csv", "test.csv", "classids.json"):
        assert (synthetic.root / name).read_bytes() == (again.root / name).read_bytes()
    video = "videos/disc_left/train_001.mp4"
    assert np.array_equal(decode(synthetic.root / video)[0], decode(again.root / video)[0])
    assert (synthetic.root / video).read_bytes() == (again.root / video).read_bytes()
    assert not np.array_equal(decode(synthetic.root / video)[0], decode(other.root / video)[0])

    # re-running with the same settings keeps the files; other settings are refused
    mtime = (again.root / video).stat().st_mtime_ns
    make_synthetic(tmp_path / "b", seed=0, **SMALL)
    assert (again.root / video).stat().st_mtime_ns == mtime
    with pytest.raises(DataPrepError, match="other settings"):
        make_synthetic(tmp_path / "b", seed=2, **SMALL)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("x")
    with pytest.raises(DataPrepError, match="not empty"):
        make_synthetic(tmp_path / "foreign", **SMALL)


def shape_track(frames, colour, axis):
    """Per-frame displacement (pixels) of the pixels of ``colour`` along ``axis`` (2 = x, 1 = y),
    as a circular mean, since shapes wrap around the frame edges."""
    mask = np.linalg.norm(frames.astype(float) - np.array(colour), axis=-1) < 50
    size = frames.shape[axis]
    phase = np.exp(2j * np.pi * (np.arange(size) + 0.5) / size)
    shape = [1, 1, 1]
    shape[axis] = size
    centre = np.angle((mask * phase.reshape(shape)).sum(axis=(1, 2)))
    return np.diff(np.unwrap(centre)) * size / (2 * np.pi)


def test_make_synthetic_moves_each_object_its_way(synthetic):
    annotations = json.loads((synthetic.root / "annotations.json").read_text())
    for item in annotations:
        frames = decode(synthetic.root / item["path"])[0]
        axis = 2 if item["direction"] in ("left", "right") else 1
        step = shape_track(frames, item["colour"], axis)
        backwards = shape_track(frames[::-1], item["colour"], axis)
        sign = 1 if item["direction"] in ("right", "down") else -1
        assert sign * step.mean() > 0.5 and sign * backwards.mean() < -0.5, item
        assert np.mean(np.sign(step) == sign) > 0.8, item  # steady, not just on average
        assert abs(step.mean()) < MAX_SPEED * 48 / 64 * 1.25, item  # never faster than the no-aliasing bound
        # a bright object on a dark background: the polarity never varies (see BACKGROUND_MAX)
        assert min(item["colour"]) >= SHAPE_MIN, item
        dark = np.linalg.norm(frames.astype(float) - np.array(item["colour"]), axis=-1) >= 50
        assert np.median(frames[dark]) < BACKGROUND_MAX + BACKGROUND_CONTRAST, item


def test_make_synthetic_classes_differ_only_by_object_and_direction():
    left = sample_clip("disc_left", np.random.default_rng(5), 64)
    right = sample_clip("disc_right", np.random.default_rng(5), 64)
    assert right == dataclasses.replace(left, label="disc_right", direction="right",
                                        velocity=(-left.velocity[0], -left.velocity[1]))
    square = sample_clip("square_left", np.random.default_rng(5), 64)
    assert square == dataclasses.replace(left, label="square_left", shape="square")
    assert CLASSES[:4] == ("disc_left", "disc_right", "disc_up", "disc_down") and len(CLASSES) == 12


def test_demo_clips_cannot_alias_a_direction():
    """At the demo's smallest frame count, an object moves less than half its size per sampled frame."""
    from mutualnet_video.config import load_config

    cfg = load_config([str(DATA_PREP.parent / "configs" / "demo" / "X3D_DEMO.yaml")])
    fps = 15  # make_synthetic's default
    span = cfg.DATA.SAMPLING_RATE * cfg.DATA.NUM_FRAMES / cfg.DATA.TARGET_FPS * fps
    assert max_step_ratio(span, min(cfg.MUTUALNET.NUM_FRAMES_LIST)) < 1
    assert max_step_ratio(span * 2, min(cfg.MUTUALNET.NUM_FRAMES_LIST)) > 1  # the check can fail


def test_make_synthetic_cli(tmp_path):
    out = tmp_path / "syn"
    result = run_script("make_synthetic", "--out", out, "--num-classes", 2, "--train-per-class", 1,
                        "--val-per-class", 1, "--test-per-class", 1, "--frames", 8, "--size", 32, "--jobs", 2)
    assert f"DATA.PATH_TO_DATA_DIR {out} DATA.PATH_PREFIX {out}" in result.stdout
    assert read_lines(out / "train.csv") == ["videos/disc_left/train_000.mp4 0", "videos/disc_right/train_000.mp4 1"]
    assert "num_classes must be" in run_script("make_synthetic", "--out", tmp_path / "x", "--num-classes", 99,
                                               expect=1).stderr


def test_encode_h264_rejects_odd_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        encode_h264(tmp_path / "x.mp4", gradient_frames(2, 31, 32), 10)
