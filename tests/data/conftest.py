"""Tiny real videos (several codecs, containers, sizes and frame rates; broken files) and configs."""
import os
import shutil
from typing import Dict

import numpy as np
import pytest

from mutualnet_video.config import get_cfg
from mutualnet_video.data.decoders import decode, probe
from mutualnet_video.data.synthetic import moving_pattern, write_video

# Forced B-frames and a keyframe every 8 frames, so seeking and frame reordering are exercised.
X264_BFRAMES = {"x264-params": "bframes=3:b-adapt=0:keyint=8:min-keyint=8:scenecut=0"}
VP9_FAST = {"g": "8", "deadline": "realtime", "cpu-used": "8"}

GOOD_VIDEOS = {  # name: (codec, frames, width, height, fps, options)
    "h264_bframes.mp4": ("libx264", 32, 96, 64, 30, X264_BFRAMES),
    "vp9.webm": ("libvpx-vp9", 24, 80, 64, 24, VP9_FAST),
    "h264.mkv": ("libx264", 20, 64, 64, 25, X264_BFRAMES),
    "portrait.mp4": ("libx264", 16, 48, 80, 30, None),
}
VFR_TIMESTAMPS_MS = [0, 33, 66, 150, 170, 300, 333, 366, 500, 510, 520, 700, 733, 766, 800, 1000]
BAD_VIDEOS = ("truncated.mp4", "empty.mp4", "text.mp4", "missing.mp4")

# The containers of real-world data sets, each with what makes random access hard. MPEG-4 Part 2 in
# AVI is UCF-101's and HMDB-51's Xvid / DivX: B-frames, and keyframes on consecutive frames (forced,
# as at scene cuts) at the start and in the middle.
X264_OPEN_GOP = {"x264-params": "bframes=3:b-adapt=0:keyint=12:min-keyint=12:scenecut=0:open-gop=1"}
CONTAINER_VIDEOS = {  # name: (codec, frames, fps, options, forced keyframes)
    "h264_open_gop.mp4": ("libx264", 40, 30, X264_OPEN_GOP, ()),
    "vp9.webm": ("libvpx-vp9", 30, 24, VP9_FAST, ()),
    "mpeg4_bframes.avi": ("mpeg4", 48, 25, {"bf": "2", "g": "12"}, (0, 1, 24, 25, 26)),
    "msmpeg4.avi": ("msmpeg4", 30, 25, {"g": "8"}, ()),
    "mjpeg.avi": ("mjpeg", 20, 25, {"strict": "-1"}, ()),  # yuv420p is "unofficial" MJPEG
    "h264_open_gop.mkv": ("libx264", 40, 25, X264_OPEN_GOP, ()),
    "mpeg4_bframes.mkv": ("mpeg4", 36, 25, {"bf": "2", "g": "12"}, ()),
}


def asymmetric_frames(num_frames: int, width: int, height: int):
    """Dark left half, bright right half: a horizontal flip is visible in any crop."""
    for _ in range(num_frames):
        image = np.full((height, width, 3), 20, np.uint8)
        image[:, width // 2 :] = 235
        yield image


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Dict[str, str]:
    """Paths by name: GOOD_VIDEOS, "vfr.mkv" (variable frame rate), "asymmetric.mp4", BAD_VIDEOS."""
    root = tmp_path_factory.mktemp("videos")
    paths = {name: str(root / name) for name in [*GOOD_VIDEOS, "vfr.mkv", "asymmetric.mp4", *BAD_VIDEOS]}
    for seed, (name, (codec, frames, width, height, fps, options)) in enumerate(GOOD_VIDEOS.items()):
        write_video(paths[name], moving_pattern(frames, width, height, seed), fps, codec, options)
    write_video(paths["vfr.mkv"], moving_pattern(len(VFR_TIMESTAMPS_MS), 64, 48), 30, "libx264",
                X264_BFRAMES, timestamps_ms=VFR_TIMESTAMPS_MS)
    write_video(paths["asymmetric.mp4"], asymmetric_frames(16, 96, 64), 30)
    with open(paths["h264_bframes.mp4"], "rb") as f:
        data = f.read()
    with open(paths["truncated.mp4"], "wb") as f:
        f.write(data[: len(data) // 2])
    open(paths["empty.mp4"], "wb").close()
    with open(paths["text.mp4"], "w") as f:
        f.write("this is a text file, not a video\n")
    return paths


@pytest.fixture(scope="session")
def container_videos(tmp_path_factory) -> Dict[str, str]:
    """Paths of ``CONTAINER_VIDEOS`` (96x64), by name."""
    root = tmp_path_factory.mktemp("containers")
    paths = {}
    for seed, (name, (codec, frames, fps, options, keyframes)) in enumerate(CONTAINER_VIDEOS.items()):
        paths[name] = str(root / name)
        write_video(paths[name], moving_pattern(frames, 96, 64, seed), fps, codec, options, keyframes=keyframes)
    return paths


def tiny_cfg(data_dir: str, prefix: str = "", **overrides):
    """A config small enough for CPU tests: 8 frames, crops of 48/64 px, 5 classes, no workers."""
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = data_dir
    cfg.DATA.PATH_PREFIX = prefix
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 8, 2
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = [56, 72], 48, 56
    cfg.MODEL.ARCH, cfg.MODEL.NUM_CLASSES = "x3d", 5
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 2, 3
    cfg.TRAIN.BATCH_SIZE, cfg.TEST.BATCH_SIZE = 4, 6
    cfg.DATA_LOADER.NUM_WORKERS, cfg.DATA_LOADER.PIN_MEMORY = 0, False
    cfg.DATA.NUM_RETRIES = 3
    for key, value in overrides.items():
        node, *path = key.split(".")
        target = cfg[node]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return cfg


def write_kinetics(folder, videos: Dict[str, str], entries, splits=("train", "val", "test")) -> str:
    """``<split>.csv`` files in ``folder`` listing ``(video name, label)`` entries; returns ``folder``."""
    os.makedirs(folder, exist_ok=True)
    for split in splits:
        with open(os.path.join(folder, f"{split}.csv"), "w") as f:
            f.writelines(f"{videos[name]} {label}\n" for name, label in entries)
    return str(folder)


@pytest.fixture()
def mixed_dir(tmp_path, videos) -> str:
    """A Kinetics layout of two good videos (labels 0, 1) and the broken ones (label 2)."""
    entries = [("h264_bframes.mp4", 0), ("vp9.webm", 1)] + [(name, 2) for name in BAD_VIDEOS]
    return write_kinetics(tmp_path, videos, entries)


@pytest.fixture(scope="session")
def kinetics_dir(tmp_path_factory, videos) -> str:
    """A Kinetics layout of the good videos (labels 0..3), the same list for every split."""
    entries = [(name, label) for label, name in enumerate(GOOD_VIDEOS)]
    return write_kinetics(tmp_path_factory.mktemp("kinetics"), videos, entries)


@pytest.fixture(scope="session")
def ssv2_dir(tmp_path_factory, videos) -> str:
    """An SSv2 layout: labels json, train/validation json (one video per template), ``<id>.webm``
    videos, and PySlowFast frame lists ``train.csv`` / ``val.csv`` of extracted JPEG frames."""
    from torchvision.io import write_jpeg

    root = tmp_path_factory.mktemp("ssv2")
    templates = ["Pushing something from left to right", "Pushing something from right to left",
                 "Putting something on something"]
    with open(root / "something-something-v2-labels.json", "w") as f:
        f.write("{\n" + ",\n".join(f'  "{t}": "{i}"' for i, t in enumerate(templates)) + "\n}\n")
    entries = [("101", "Pushing [something] from left to right"),
               ("102", "Pushing [something] from right to left"),
               ("103", "Putting [something] on [something]")]
    body = ",\n".join(f'  {{"id": "{vid}", "label": "x", "template": "{tpl}", "placeholders": ["x"]}}'
                      for vid, tpl in entries)
    for split in ("train", "validation"):
        with open(root / f"something-something-v2-{split}.json", "w") as f:
            f.write("[\n" + body + "\n]\n")
    num_frames, _ = probe(videos["vp9.webm"])
    frames = decode(videos["vp9.webm"], range(num_frames))
    lines = ["original_vido_id video_id frame_id path labels"]
    for n, (vid, _) in enumerate(entries):
        shutil.copy(videos["vp9.webm"], root / f"{vid}.webm")
        os.makedirs(root / "frames" / vid)
        for i in range(num_frames):
            rel = f"frames/{vid}/{vid}_{i + 1:06d}.jpg"
            write_jpeg(frames[i].permute(2, 0, 1).contiguous(), str(root / rel), quality=95)
            lines.append(f'{vid} {n} {i} {rel} ""')
    for name in ("train.csv", "val.csv"):
        (root / name).write_text("\n".join(lines) + "\n")
    return str(root)
