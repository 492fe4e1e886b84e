#!/usr/bin/env python3
"""Run one video through every config of an exported bundle with ONNX Runtime.

    python tools/run_bundle.py --bundle output/demo/export --video some_clip.mp4 [--labels classids.json]

Prints, per exported config, the predicted class, its probability and the ONNX Runtime latency
(median of --repeats runs, batch 1) on this machine.
"""
import argparse
import os
import sys

import numpy as np
import simplejson

from mutualnet_video.config import SubnetConfig, cfg_from_text
from mutualnet_video.data.clip import load_clip
from mutualnet_video.export import busy_cpu_warning, load_bundle, measure_latency
from mutualnet_video.utils.checkpoint import read_entry


def class_names(path):
    if not path or not os.path.isfile(path):
        return None
    with open(path) as f:
        ids = simplejson.load(f)  # class name -> index
    return {int(i): name for name, i in ids.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True, help="folder written by tools/export_net.py")
    parser.add_argument("--video", required=True, help="a video file")
    parser.add_argument("--labels", default="", help="classids.json (class name -> index); default: none")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import onnxruntime as ort

    bundle = load_bundle(args.bundle)  # verifies every checksum
    names = class_names(args.labels)
    warning = busy_cpu_warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{'config':<16} {'GFLOPs':>7} {'prediction':<28} {'prob':>5} {'ORT ms':>7}")
    results = []
    for entry in sorted(bundle.entries, key=lambda e: e["gflops"]):
        static_path = os.path.join(args.bundle, entry["files"]["pyth"]["path"])
        cfg = cfg_from_text(read_entry(static_path, "cfg"), static_path)
        clip = load_clip(args.video, cfg, SubnetConfig(**entry["config"]))
        tensors = clip if isinstance(clip, list) else [clip]
        session = ort.InferenceSession(os.path.join(args.bundle, entry["files"]["onnx"]["path"]),
                                       providers=["CPUExecutionProvider"])
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), tensors)}
        (logits,) = session.run(None, feeds)
        ms = measure_latency(lambda: session.run(None, feeds), warmup=1, repeats=args.repeats)
        probs = np.exp(logits[0] - logits[0].max())
        probs /= probs.sum()
        k = int(probs.argmax())
        label = names.get(k, str(k)) if names else str(k)
        print(f"{entry['name']:<16} {entry['gflops']:>7.3f} {label:<28} {probs[k]:>5.2f} {ms:>7.1f}")
        results.append({"config": entry["name"], "class": k, "label": label, "prob": float(probs[k]), "ms": ms})
    return results


if __name__ == "__main__":
    main()
