"""Cost of one mutual-learning step vs. training the same configs as separate static networks.

On one batch, with the configs ``ConfigSampler`` draws for one step:
  (a) ``mutual_step``: every config forward + backward on the slimmable model (inputs derived from
      the full clip inside the step), one optimizer step;
  (b) for each config, a plain network of exactly its active channel counts
      (``extract_subnet``) trained one step alone on its input (prepared outside the timing, as a
      static model's loader would deliver it): forward + the same loss + backward + optimizer step.
The ratio (a) / sum(b) is the overhead of slimmable training (target <= 1.10). Medians of
``--repeats`` interleaved runs. Writes a json summary to ``--out``.

    python bench/bench_train_step.py --cfg configs/Kinetics/X3D_S.yaml --batch 2
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mutualnet_video.config import load_config  # noqa: E402
from mutualnet_video.data.derive import derive_input  # noqa: E402
from mutualnet_video.engine import (  # noqa: E402
    ConfigSampler, build_optimizer, distillation_loss, label_loss, mutual_step,
)
from mutualnet_video.export import extract_subnet  # noqa: E402
from mutualnet_video.models import build_model  # noqa: E402
from mutualnet_video.models.inputs import dummy_input  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="configs/Kinetics/X3D_S.yaml")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--step", type=int, default=0, help="which step's configs to use")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="output/bench/bench_train_step.json")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config([args.cfg], ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", *args.opts])
    model = build_model(cfg).train()
    sampler = ConfigSampler(cfg)
    configs = sampler.sample(args.step)
    clip = dummy_input(cfg, sampler.full, args.batch)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (args.batch,))
    ce = label_loss(cfg.MODEL.LOSS_FUNC)
    optimizer = build_optimizer(model, cfg)
    reduce = cfg.MUTUALNET.REDUCE_PATHWAYS

    with torch.no_grad():
        target = torch.softmax(model(clip).float(), dim=-1)
    static = []  # (config, plain model, optimizer, input)
    for i, sub in enumerate(configs):
        plain = extract_subnet(model, sub.width).train()
        static.append((sub, plain, build_optimizer(plain, cfg), derive_input(clip, sub, reduce), i == 0))

    def static_step(plain, opt, x, is_full):
        opt.zero_grad(set_to_none=True)
        logits = plain(x)
        loss = ce(logits, labels) if is_full else distillation_loss(logits, target)
        loss.backward()
        opt.step()

    def run_mutual():
        mutual_step(model, clip, labels, configs, optimizer, ce, reduce_pathways=reduce)

    # warm-up (allocator, caches, one-time selections), then interleaved timed runs
    run_mutual()
    for _, plain, opt, x, is_full in static:
        static_step(plain, opt, x, is_full)
    mutual_times, static_times = [], {str(s[0]): [] for s in static}
    for _ in range(args.repeats):
        mutual_times.append(timed(run_mutual))
        for sub, plain, opt, x, is_full in static:
            static_times[str(sub)].append(timed(lambda: static_step(plain, opt, x, is_full)))
    mutual = statistics.median(mutual_times)
    per_config = {name: statistics.median(t) for name, t in static_times.items()}
    total_static = sum(per_config.values())
    result = {
        "cfg": args.cfg, "arch": cfg.MODEL.ARCH, "batch": args.batch, "threads": args.threads,
        "width_range": list(cfg.MUTUALNET.WIDTH_RANGE), "configs": [str(c) for c in configs],
        "mutual_step_s": mutual, "static_steps_s": per_config, "static_total_s": total_static,
        "ratio": mutual / total_static, "target": 1.10, "repeats": args.repeats,
        "torch": torch.__version__,
    }
    for name, t in per_config.items():
        print(f"  static {name:>16}: {t * 1000:8.1f} ms")
    print(f"  static total          : {total_static * 1000:8.1f} ms")
    print(f"  mutual_step           : {mutual * 1000:8.1f} ms")
    print(f"ratio mutual / static = {result['ratio']:.3f} (target <= 1.10)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
