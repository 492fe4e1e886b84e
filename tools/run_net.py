#!/usr/bin/env python3
"""Train and/or test a slimmable video network, PySlowFast style.

    python tools/run_net.py --cfg configs/Kinetics/X3D_M.yaml [--opts] KEY VALUE ...

TRAIN.ENABLE trains (mutual learning, MUTUALNET.MODE); TEST.ENABLE then evaluates the last
checkpoint over MUTUALNET.EVAL_GRID (BN re-calibration, TEST.NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS
views) and writes curve.json / curve.csv / query_table.json / curve.png into OUTPUT_DIR. Runs on
CPU (NUM_GPUS 0), one GPU, NUM_GPUS GPUs (one process each, spawned here), or under torchrun
(``torchrun --nproc_per_node 2 tools/run_net.py --cfg ...``; gloo when NUM_GPUS is 0). Several
machines: torchrun's --nnodes/--rdzv options, or PySlowFast's NUM_SHARDS / SHARD_ID with
``--init_method tcp://HOST:PORT`` on every machine.
"""
import logging
import os

from mutualnet_video.config import load_config_from_args, parse_args
from mutualnet_video.engine import test, train
from mutualnet_video.utils.atomic import write_text
from mutualnet_video.utils.distributed import is_master_proc, launch_job
from mutualnet_video.utils.logging import setup_logging

logger = logging.getLogger("run_net")


def run(cfg) -> None:
    """One rank's job: log setup, training, test."""
    setup_logging(cfg.OUTPUT_DIR)
    if is_master_proc():
        write_text(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), cfg.dump())
        logger.info("config (also in %s):\n%s", os.path.join(cfg.OUTPUT_DIR, "config.yaml"), cfg.dump())
    if cfg.TRAIN.ENABLE:
        train(cfg)
    if cfg.TEST.ENABLE:
        test(cfg)  # every config of MUTUALNET.EVAL_GRID: BN calibration, multi-view test, curve files


def main(argv=None) -> None:
    args = parse_args(argv, description=__doc__)
    cfg = load_config_from_args(args)
    launch_job(cfg, run, init_method=args.init_method)


if __name__ == "__main__":
    main()
