#!/usr/bin/env python3
"""Print GFLOPs and parameters of models built from configs, at the full and the smallest config.

    python tools/model_info.py --cfg configs/Kinetics/X3D_M.yaml [more.yaml ...] [--opts KEY VALUE ...]
"""
import os

from mutualnet_video.budget import SubnetSpace, model_stats
from mutualnet_video.config import load_config, parse_args
from mutualnet_video.models import build_model


def main(argv=None) -> None:
    args = parse_args(argv, description=__doc__)
    rows = []
    for path in args.cfg_files:
        cfg = load_config([path], args.opts)
        model = build_model(cfg)
        name = os.path.splitext(os.path.basename(path))[0]
        space = SubnetSpace(cfg)
        for label, sub in (("full", space.full), ("smallest", space.smallest)):
            stats = model_stats(model, cfg, width=sub.width, crop=sub.crop, frames=sub.frames)
            rows.append((name, label, str(sub), stats["gflops"], stats["params"] / 1e6))
    header = f"{'model':<22} {'config':<9} {'sub-network':<16} {'GFLOPs':>8} {'params (M)':>11}"
    print(header)
    print("-" * len(header))
    for name, label, sub, gflops, params in rows:
        print(f"{name:<22} {label:<9} {sub:<16} {gflops:>8.3f} {params:>11.2f}")


if __name__ == "__main__":
    main()
