"""Cost of one mutual-learning step vs. training the same configs as separate static networks.

On one batch, with the configs ``ConfigSampler`` draws for one step:
  (a) ``mutual_step``: every config forward + backward on the slimmable model (inputs derived from
      the full clip inside the step), one optimizer step;
  (b) for each config, a plain network of exactly its active channel counts (``extract_subnet``,
      its convs calling the slim layers' kernel: ``common.with_slim_kernels``) trained one step alone
      on its input (prepared outside the timing, as a static model's loader would deliver it):
      forward + the same loss + backward + optimizer step.
The ratio (a) / sum(b) is the overhead of slimmable training (target <= 1.10). Medians of
``--repeats`` interleaved runs. Writes a json summary to ``--out``. ``measure_train_step`` is the
measurement itself (``bench/run_all.py`` and ``bench/gpu.py`` call it too).

    python bench/bench_train_step.py --cfg configs/Kinetics/X3D_S.yaml --batch 2 [--device cuda] [--amp]
"""
from typing import Callable, Dict, List, Tuple

import torch
from fvcore.common.config import CfgNode

from common import interleaved_ms, step_parser, with_slim_kernels, write_json
from mutualnet_video.utils.machine import machine_record
from mutualnet_video.config import SubnetConfig, load_config
from mutualnet_video.data.derive import derive_input
from mutualnet_video.utils.distributed import to_device
from mutualnet_video.engine import (
    ConfigSampler, build_optimizer, distillation_loss, label_loss, mutual_step,
)
from mutualnet_video.export import extract_subnet
from mutualnet_video.models import build_model
from mutualnet_video.budget import SubnetSpace

TARGET = 1.10  # mutual step / sum of static steps


def train_step_runs(cfg: CfgNode, batch: int, step: int = 0, device: str = "cpu",
                    amp: bool = False) -> Tuple[List[SubnetConfig], Dict[str, Callable[[], None]]]:
    """The configs of step ``step`` and one callable per run: ``"mutual"`` (a) and one per config,
    named ``str(config)`` (b), on one random batch of ``batch`` full clips on ``device``. ``amp``:
    forwards under autocast with a GradScaler (float16 on CUDA, bfloat16 on a CPU)."""
    device = torch.device(device)
    model = build_model(cfg).to(device).train()
    sampler = ConfigSampler(cfg)
    configs = sampler.sample(step)
    clip = to_device(SubnetSpace(cfg).dummy_input(sampler.full, batch), device)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch,), device=device)
    ce = label_loss(cfg.MODEL.LOSS_FUNC)
    optimizer = build_optimizer(model, cfg)
    reduce = cfg.MUTUALNET.REDUCE_PATHWAYS
    scaler = torch.amp.GradScaler(device.type) if amp else None
    with torch.no_grad():
        target = torch.softmax(model(clip).float(), dim=-1)

    def static_run(sub, is_full):
        plain = with_slim_kernels(extract_subnet(model, sub.width)).train()
        opt, x = build_optimizer(plain, cfg), derive_input(clip, sub, reduce)
        plain_scaler = torch.amp.GradScaler(device.type) if amp else None

        def run():  # what mutual_step does for one config, on a plain network
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                logits = plain(x)
            loss = ce(logits.float(), labels) if is_full else distillation_loss(logits, target)
            if plain_scaler is None:
                loss.backward()
                opt.step()
            else:
                plain_scaler.scale(loss).backward()
                plain_scaler.step(opt)
                plain_scaler.update()
        return run

    runs = {"mutual": lambda: mutual_step(model, clip, labels, configs, optimizer, ce, reduce_pathways=reduce,
                                          scaler=scaler)}
    runs.update((str(sub), static_run(sub, i == 0)) for i, sub in enumerate(configs))
    return configs, runs


def measure_train_step(cfg: CfgNode, batch: int, step: int = 0, repeats: int = 5, device: str = "cpu",
                       amp: bool = False) -> Dict:
    """Time (a) and (b) of the module docstring (``train_step_runs``).

    Returns the configs of step ``step``, the median seconds of the mutual step, of each static step
    and their sum, and ``ratio`` = mutual / static total.
    """
    configs, runs = train_step_runs(cfg, batch, step, device, amp)
    median_s = {name: ms / 1000.0 for name, ms in
                interleaved_ms(runs, repeats, cuda=torch.device(device).type == "cuda").items()}
    mutual = median_s.pop("mutual")
    total_static = sum(median_s.values())
    return {
        "arch": cfg.MODEL.ARCH, "batch": batch, "width_range": list(cfg.MUTUALNET.WIDTH_RANGE),
        "configs": [str(c) for c in configs], "mutual_step_s": mutual, "static_steps_s": median_s,
        "static_total_s": total_static, "ratio": mutual / total_static, "target": TARGET, "repeats": repeats,
        "device": str(device), "amp": amp,
    }


def print_train_step(result: Dict) -> None:
    """The per-config static times, their total, the mutual step and the ratio, in ms."""
    for name, t in result["static_steps_s"].items():
        print(f"  static {name:>16}: {t * 1000:8.1f} ms")
    print(f"  static total          : {result['static_total_s'] * 1000:8.1f} ms")
    print(f"  mutual_step           : {result['mutual_step_s'] * 1000:8.1f} ms")
    print(f"ratio mutual / static = {result['ratio']:.3f} (target <= {TARGET:.2f})")


def main(argv=None):
    parser = step_parser(__doc__, "configs/Kinetics/X3D_S.yaml", 2, "output/bench/bench_train_step.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--amp", action="store_true", help="autocast + GradScaler (float16 on CUDA, bfloat16 on CPU)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config([args.cfg], ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", *args.opts])
    result = {"cfg": args.cfg, **measure_train_step(cfg, args.batch, args.step, args.repeats, args.device, args.amp),
              "machine": machine_record()}
    print_train_step(result)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
