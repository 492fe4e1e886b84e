"""Clip loader throughput: ours (pyav, decord) against pytorchvideo's own pipeline, same videos.

Train-mode Kinetics clips, X3D-M style: 16 frames at sampling rate 5 (30 fps target), short side
jittered in [256, 320], random 224 crop, random flip, normalised. Videos: ``--videos`` H.264 mp4s of
``--seconds`` s at 320x240, 30 fps (libx264 defaults: B-frames, keyframe every 250 frames), written
to a temporary folder. Every pipeline reads the same list (each video ``--passes`` times per epoch)
through a ``DataLoader`` with the same batch size and ``num_workers``; clips/s is timed over whole
epochs, worker start-up included. The main process uses ``--threads`` torch threads (default 1,
as DataLoader workers do): on a shared, oversubscribed machine OpenMP threads make timings erratic.

The baseline is pytorchvideo's ``LabeledVideoDataset`` (``EncodedVideo``, PyAV) with a
``RandomClipSampler`` of 16 * 5 / 30 s, and the same steps in plain torch: uniform temporal
subsample to 16 frames, /255, normalise, random short-side scale, random crop, random flip.

Also checks that the PyAV path decodes no frame it does not need: per clip, the frames decoded
against the span from the keyframe before the first frame to the last frame.

``measure_loader_vs_raw`` compares, per codec of ``RAW_CODECS`` (320x240 H.264 mp4 and VP9 webm, and
Kinetics-like H.264 at 340x256 and at short side 320), the same train loader (no workers, batch
``--batch``) with plain PyAV on the same videos and the same sampling rule: open, seek to the
first frame's timestamp, decode to the last one and convert the clip's frames to RGB arrays, the
least any loader does. ``loader_vs_raw`` = loader clips/s / raw clips/s (median of interleaved runs).

``measure_loader`` and ``measure_loader_vs_raw`` are the measurements (``bench/run_all.py`` calls them).

    python bench/bench_loader.py [--workers 0 1 2] [--repeats 3] [--out bench/results_loader.json]
    python bench/bench_loader.py --vs-raw [--rounds 12] [--out FILE]      # measure_loader_vs_raw only
"""
import argparse
import bisect
import functools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Sequence

import av
import numpy as np
import torch
import torch.nn.functional as F

from common import write_json
from mutualnet_video.utils.machine import machine_record
from mutualnet_video.config import get_cfg
from mutualnet_video.data import build_loader
from mutualnet_video.data.decoders import PyAVReader
from mutualnet_video.data.sampling import TemporalSampling
from mutualnet_video.data.synthetic import moving_pattern, write_video

NUM_FRAMES, SAMPLING_RATE, FPS, CROP, SCALES = 16, 5, 30, 224, (256, 320)
MEAN, STD = [0.45, 0.45, 0.45], [0.225, 0.225, 0.225]


VP9_REALTIME = {"deadline": "realtime", "cpu-used": "8"}
RAW_CODECS = {  # name: (encoder, width, height, fps, options, extension)
    "h264_320x240": ("libx264", 320, 240, 30, None, "mp4"),
    "vp9_320x240": ("libvpx-vp9", 320, 240, 30, VP9_REALTIME, "webm"),
    "kinetics_h264_340x256": ("libx264", 340, 256, 25, None, "mp4"),
    "kinetics_h264_568x320": ("libx264", 568, 320, 30, None, "mp4"),
}


def make_videos(folder: str, count: int, seconds: float, codec: str = "h264_320x240") -> List[str]:
    """``count`` videos of ``seconds`` s in the format ``RAW_CODECS[codec]``."""
    encoder, width, height, fps, options, extension = RAW_CODECS[codec]
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"{codec}_{i:02d}.{extension}")
        write_video(path, moving_pattern(int(seconds * fps), width, height, seed=i), fps, encoder, options)
        paths.append(path)
    return paths


def ours_loader(folder: str, paths: List[str], passes: int, backend: str, workers: int, batch: int):
    with open(os.path.join(folder, "train.csv"), "w") as f:
        f.writelines(f"{os.path.basename(p)} {i % 10}\n" for _ in range(passes) for i, p in enumerate(paths))
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = cfg.DATA.PATH_PREFIX = folder
    cfg.DATA.DECODING_BACKEND = backend
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS = NUM_FRAMES, SAMPLING_RATE, FPS
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_JITTER_SCALES = CROP, list(SCALES)
    cfg.DATA.MEAN, cfg.DATA.STD = MEAN, STD
    cfg.MODEL.ARCH, cfg.MODEL.NUM_CLASSES = "x3d", 10
    cfg.TRAIN.BATCH_SIZE, cfg.DATA_LOADER.NUM_WORKERS, cfg.DATA_LOADER.PIN_MEMORY = batch, workers, False
    return build_loader(cfg, "train")


def baseline_transform(sample: dict) -> dict:
    """pytorchvideo's usual Kinetics train transform, in plain torch, on ``sample["video"]`` (C, T, H, W)."""
    video = sample["video"]
    index = torch.linspace(0, video.shape[1] - 1, NUM_FRAMES).clamp(0, video.shape[1] - 1).long()
    video = video.index_select(1, index) / 255.0
    video = (video - torch.tensor(MEAN).view(3, 1, 1, 1)) / torch.tensor(STD).view(3, 1, 1, 1)
    size, (h, w) = random.randint(*SCALES), video.shape[-2:]
    new = (size, int(w * size / h)) if h < w else (int(h * size / w), size)
    video = F.interpolate(video, size=new, mode="bilinear", align_corners=False)
    y, x = random.randint(0, video.shape[-2] - CROP), random.randint(0, video.shape[-1] - CROP)
    video = video[..., y : y + CROP, x : x + CROP]
    if random.random() < 0.5:
        video = video.flip(-1)
    return {"video": video, "label": sample["label"]}


def baseline_loader(folder: str, paths: List[str], passes: int, workers: int, batch: int):
    from pytorchvideo.data import LabeledVideoDataset, RandomClipSampler

    labeled = [(p, {"label": i % 10}) for _ in range(passes) for i, p in enumerate(paths)]
    dataset = LabeledVideoDataset(
        labeled, RandomClipSampler(SAMPLING_RATE * NUM_FRAMES / FPS), transform=baseline_transform,
        decode_audio=False, decoder="pyav",
    )
    return torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers)


def clips_per_second(loader) -> float:
    """Clips/s over one epoch, worker start-up included (the same for every pipeline)."""
    clips, start = 0, time.perf_counter()
    for batch in loader:
        clips += (batch["video"] if isinstance(batch, dict) else batch[0]).shape[0]
    return clips / (time.perf_counter() - start)


def decoded_frames_check(paths: List[str], clips_per_video: int = 4) -> Dict[str, float]:
    """Frames the PyAV reader decodes per clip, against the frames the clip needs."""
    sampling = TemporalSampling("clip", NUM_FRAMES, SAMPLING_RATE, FPS)
    random.seed(0)
    rows = []
    for path in paths:
        with PyAVReader(path) as reader:
            for _ in range(clips_per_video):
                indices = sampling.indices(reader.num_frames, reader.fps)
                before = reader.frames_decoded
                reader.read(indices)
                keyframe = reader._keyframes[bisect.bisect_right(reader._keyframes, indices[0]) - 1]
                assert reader.last_keyframe == keyframe
                span = indices[-1] - keyframe + 1  # frames a decoder must go through at least
                decoded = reader.frames_decoded - before
                rows.append((len(set(indices)), span, decoded, indices[-1] - indices[0] + 1))
    n = len(rows)
    return {
        "clips": n,
        "frames_used_per_clip": sum(r[0] for r in rows) / n,
        "clip_span_frames": sum(r[3] for r in rows) / n,
        "keyframe_to_last_frame": sum(r[1] for r in rows) / n,
        "frames_decoded_per_clip": sum(r[2] for r in rows) / n,
        "clips_decoding_outside_span": sum(r[2] > r[1] for r in rows),
    }


PIPELINES: Dict[str, Callable] = {
    "ours_pyav": functools.partial(ours_loader, backend="pyav"),
    "ours_decord": functools.partial(ours_loader, backend="decord"),
    "pytorchvideo_baseline": baseline_loader,
}


def measure_loader(videos: int = 12, seconds: float = 10.0, passes: int = 4, workers: Sequence[int] = (0, 1, 2),
                   batch: int = 4, repeats: int = 3) -> Dict:
    """Clips/s of every pipeline in ``PIPELINES`` for each worker count (the module docstring's setting).

    Returns ``setting``, ``rows`` (per worker count: median clips/s per pipeline, the speed-ups of
    ours over the baseline and every run) and ``pyav_decoded_frames`` (``decoded_frames_check``).
    """
    with tempfile.TemporaryDirectory() as folder:
        print(f"writing {videos} videos of {seconds:g} s, 320x240 H.264 ...", flush=True)
        paths = make_videos(folder, videos, seconds)
        runs = {(name, w): [] for name in PIPELINES for w in workers}
        for repeat in range(repeats):
            for w in workers:
                for name, make in PIPELINES.items():
                    loader = make(folder, paths, passes, workers=w, batch=batch)
                    runs[name, w].append(clips_per_second(loader))
                    del loader
                    rate = runs[name, w][-1]
                    print(f"  run {repeat + 1}/{repeats} {name:22s} workers={w}: {rate:6.1f} clips/s", flush=True)
        decode_check = decoded_frames_check(paths)
    median = {key: statistics.median(v) for key, v in runs.items()}
    rows = []
    for w in workers:
        base = median["pytorchvideo_baseline", w]
        rows.append({"workers": w, **{n: round(median[n, w], 2) for n in PIPELINES},
                     "speedup_pyav": round(median["ours_pyav", w] / base, 2),
                     "speedup_decord": round(median["ours_decord", w] / base, 2),
                     "runs": {n: [round(v, 2) for v in runs[n, w]] for n in PIPELINES}})
    return {
        "benchmark": "train clip loader, clips/s",
        "setting": {"frames": NUM_FRAMES, "sampling_rate": SAMPLING_RATE, "crop": CROP, "jitter": SCALES,
                    "videos": videos, "seconds": seconds, "size": "320x240", "fps": FPS,
                    "codec": "h264 (libx264 defaults)", "passes": passes, "batch": batch, "repeats": repeats,
                    "main_process_torch_threads": torch.get_num_threads()},
        "rows": rows,
        "pyav_decoded_frames": decode_check,
    }


def raw_clip(path: str, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` by plain PyAV: seek to the first frame's timestamp (frame rate from the
    header), decode to the last frame, RGB arrays of the wanted frames ``(T, H, W, 3)``."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps, start, time_base = float(stream.average_rate), stream.start_time or 0, float(stream.time_base)
        container.seek(start + int(indices[0] / fps / time_base), stream=stream)
        wanted, frames, last = set(indices), {}, None
        for frame in container.decode(stream):
            i = round((frame.pts - start) * time_base * fps)
            if i in wanted and i not in frames:
                last = frames[i] = frame.to_ndarray(format="rgb24")
            if i >= indices[-1]:
                break
    return np.stack([frames.get(i, last) for i in indices])


class RecordingSampling:
    """A data set's ``TemporalSampling`` that also records the indices of every clip it samples."""

    def __init__(self, sampling: TemporalSampling):
        self.sampling, self.clips = sampling, []

    def indices(self, *args, **kwargs) -> List[int]:
        self.clips.append(self.sampling.indices(*args, **kwargs))
        return self.clips[-1]

    def __getattr__(self, name):  # num_frames, rule...
        return getattr(self.sampling, name)


def measure_loader_vs_raw(codecs: Sequence[str] = tuple(RAW_CODECS), videos: int = 4, seconds: float = 10.0,
                          batch: int = 4, rounds: int = 20) -> Dict:
    """Per codec: the train loader (PyAV, no workers) against ``raw_clip`` on exactly the same clips
    (video and frames, recorded from the loader), batch by batch: each round times one loader batch,
    then ``raw_clip`` on its clips, so a change of machine load hits both and clips near a keyframe or
    far from one weigh the same on both sides. ``ratio`` = median over rounds of raw time / loader time;
    ``loader`` and ``raw`` are the median clips/s."""
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for codec in codecs:
            paths = make_videos(folder, videos, seconds, codec)
            loader = ours_loader(folder, paths, -(-(rounds + 1) * batch // len(paths)), "pyav", 0, batch)
            dataset = loader.dataset
            dataset.temporal = recorder = RecordingSampling(dataset.temporal)
            batches, times = iter(loader), {"loader": [], "raw": []}
            for round_ in range(rounds + 1):  # round 0 warms up (first allocations)
                start = time.perf_counter()
                served = next(batches)[2].tolist()
                loader_time, start = time.perf_counter() - start, time.perf_counter()
                for item, indices in zip(served, recorder.clips[-len(served):]):
                    raw_clip(dataset.records[dataset.video_index(item)].source, indices)
                if round_:
                    times["loader"].append(loader_time)
                    times["raw"].append(time.perf_counter() - start)
            ratio = statistics.median(r / l for r, l in zip(times["raw"], times["loader"]))
            rate = {name: batch / statistics.median(t) for name, t in times.items()}
            rows[codec] = {"loader": round(rate["loader"], 2), "raw": round(rate["raw"], 2), "ratio": round(ratio, 3),
                           "round_ratios": [round(r / l, 3) for r, l in zip(times["raw"], times["loader"])]}
            print(f"  {codec:24s} loader {rate['loader']:6.1f} clips/s, raw {rate['raw']:6.1f}: {ratio:.2f}",
                  flush=True)
    formats = {}
    for codec in codecs:
        encoder, width, height, fps = RAW_CODECS[codec][:4]
        formats[codec] = f"{width}x{height} {encoder} {fps} fps"
    return {"benchmark": "train loader vs plain PyAV seek + decode + RGB of the same clips, clips/s",
            "setting": {"frames": NUM_FRAMES, "sampling_rate": SAMPLING_RATE, "crop": CROP, "jitter": SCALES,
                        "videos": videos, "seconds": seconds, "batch": batch, "workers": 0, "rounds": rounds,
                        "formats": formats, "torch_threads": torch.get_num_threads()},
            "rows": rows}


def print_loader_table(result: Dict) -> None:
    """Median clips/s per pipeline and worker count, the speed-ups, and the decoded-frames check."""
    setting = result["setting"]
    header = f"{'workers':>7} | " + " | ".join(f"{n:>21}" for n in PIPELINES) + " | pyav / base | decord / base"
    print(f"\nclips/s (median of {setting['repeats']} runs), {NUM_FRAMES}x{CROP} train clips from 320x240 H.264, "
          f"batch {setting['batch']}")
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        print(f"{row['workers']:>7} | " + " | ".join(f"{row[n]:>21.1f}" for n in PIPELINES)
              + f" | {row['speedup_pyav']:>11.2f} | {row['speedup_decord']:>13.2f}")
    print("\nPyAV decoded frames per clip:", json.dumps(result["pyav_decoded_frames"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--passes", type=int, default=4, help="times each video is listed per epoch")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per setting; median reported")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the main process (DataLoader workers always use 1)")
    parser.add_argument("--vs-raw", action="store_true",
                        help="measure the train loader against plain PyAV decoding per codec instead")
    parser.add_argument("--rounds", type=int, default=12, help="--vs-raw: timed batches per codec")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results_loader.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.vs_raw:
        result = measure_loader_vs_raw(videos=args.videos, seconds=args.seconds, batch=args.batch, rounds=args.rounds)
    else:
        result = measure_loader(args.videos, args.seconds, args.passes, args.workers, args.batch, args.repeats)
        print_loader_table(result)
    result["machine"] = machine_record()
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
