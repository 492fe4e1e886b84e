#!/usr/bin/env python3
"""Print GFLOPs and parameters of models built from configs, at the full and the smallest config.

    python tools/model_info.py --cfg configs/Kinetics/X3D_M.yaml [more.yaml ...] [--opts KEY VALUE ...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mutualnet_video.budget import model_stats  # noqa: E402
from mutualnet_video.config import load_config, parse_args  # noqa: E402
from mutualnet_video.engine.sampler import crop_sizes, frame_counts  # noqa: E402
from mutualnet_video.models import build_model  # noqa: E402


def main(argv=None) -> None:
    args = parse_args(argv, description=__doc__)
    rows = []
    for path in args.cfg_files:
        cfg = load_config([path], args.opts)
        model = build_model(cfg)
        name = os.path.splitext(os.path.basename(path))[0]
        (w_min, w_max), crops, frames = cfg.MUTUALNET.WIDTH_RANGE, crop_sizes(cfg), frame_counts(cfg)
        for label, sub in (("full", (w_max, crops[0], frames[0])), ("smallest", (w_min, crops[-1], frames[-1]))):
            w, c, t = sub
            stats = model_stats(model, cfg, width=w, crop=c, frames=t)
            rows.append((name, label, f"w{w:.2f}-c{c}-t{t}", stats["gflops"], stats["params"] / 1e6))
    header = f"{'model':<22} {'config':<9} {'sub-network':<16} {'GFLOPs':>8} {'params (M)':>11}"
    print(header)
    print("-" * len(header))
    for name, label, sub, gflops, params in rows:
        print(f"{name:<22} {label:<9} {sub:<16} {gflops:>8.3f} {params:>11.2f}")


if __name__ == "__main__":
    main()
