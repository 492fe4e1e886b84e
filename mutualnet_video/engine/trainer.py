"""The training loop: epochs of ``mutual_step``, periodic validation and checkpoints, resume.

``train(cfg)`` follows PySlowFast's ``train_net``: TRAIN.AUTO_RESUME continues from the last
checkpoint in OUTPUT_DIR/checkpoints (a run killed at any moment restarts from the last complete
one: checkpoints are written atomically; a warning says when that checkpoint was trained for another
SOLVER.MAX_EPOCH), else TRAIN.CHECKPOINT_FILE_PATH initialises the weights
(e.g. a static X3D from a model zoo, fine-tuned into a multi-budget one). The learning rate is set
every iteration from the epoch fraction; the configs of a step follow from (RNG_SEED, step) and the
RNGs are re-seeded every epoch from (RNG_SEED, epoch, rank), so a resumed run trains the same configs
on the same data order as an uninterrupted one (augmentations drawn in persistent loader workers
may differ).
"""
import datetime
import logging
import random
import sys
from typing import Optional

import numpy as np
import torch
import yaml
import torch.nn as nn
from fvcore.common.config import CfgNode
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..budget.calibrate import bn_calibrator
from ..data import build_loader, set_epoch
from ..models import build_model
from ..models.loading import load_checkpoint
from ..utils import distributed as du
from ..utils.checkpoint import checkpoint_path, get_last_checkpoint, save_checkpoint
from ..utils.logging import StatsLog
from ..utils.meters import AverageMeter, IterTimer, topk_correct
from .evaluate import accuracy_record, evaluate
from .losses import label_loss
from .optim import LRSchedule, build_optimizer, set_lr
from .sampler import ConfigSampler
from .step import NonFiniteLossError, mutual_step

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def grad_scaler(cfg: CfgNode, device: torch.device) -> Optional[torch.amp.GradScaler]:
    """A GradScaler if TRAIN.MIXED_PRECISION on CUDA; None otherwise (with a warning on CPU)."""
    if not cfg.TRAIN.MIXED_PRECISION:
        return None
    if device.type != "cuda":
        logger.warning("TRAIN.MIXED_PRECISION is ignored on CPU: training in float32")
        return None
    return torch.amp.GradScaler("cuda")


def _is_period_epoch(cfg: CfgNode, epoch: int, period: int) -> bool:
    """PySlowFast's rule: every ``period`` epochs, and after the last one."""
    return epoch + 1 == cfg.SOLVER.MAX_EPOCH or (period > 0 and (epoch + 1) % period == 0)


def _warn_on_another_schedule(path: str, saved_cfg: Optional[str], max_epoch: int) -> None:
    """Warn when the checkpoint being resumed was trained for another SOLVER.MAX_EPOCH: the run goes on,
    but its learning-rate schedule is stretched from here (e.g. a config edited after a finished run)."""
    trained_for = ((yaml.safe_load(saved_cfg) or {}).get("SOLVER") or {}).get("MAX_EPOCH") if saved_cfg else None
    if trained_for is not None and trained_for != max_epoch:
        logger.warning("%s was trained for SOLVER.MAX_EPOCH %d and now continues to %d: the learning-rate schedule "
                       "changes from here on (another OUTPUT_DIR starts a fresh run)", path, trained_for, max_epoch)


class Trainer:
    """Holds the model, optimizer and loaders of a run; ``fit()`` trains it (see module doc)."""

    def __init__(self, cfg: CfgNode):
        self.cfg = cfg
        self.device = du.get_device(cfg)
        seed_everything(cfg.RNG_SEED)  # the same initial weights on every rank
        self.model = build_model(cfg).to(self.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scaler = grad_scaler(cfg, self.device)
        self.sampler = ConfigSampler(cfg)
        self.schedule = LRSchedule(cfg)
        self.label_loss = label_loss(cfg.MODEL.LOSS_FUNC)
        self.train_loader = build_loader(cfg, "train")
        self.val_loader = None  # built at the first validation
        self.stats = StatsLog(cfg)
        self.start_epoch, self.step = self._resume()
        self.ddp_model = du.wrap_ddp(self.model, self.device)
        n_params = sum(p.numel() for p in self.model.parameters())
        logger.info("model %s: %.2fM parameters, width range %s, on %s (%d rank(s)), mode %s",
                    cfg.MODEL.ARCH, n_params / 1e6, cfg.MUTUALNET.WIDTH_RANGE, self.device,
                    du.get_world_size(), cfg.MUTUALNET.MODE)

    # ----------------------------------------------------------------------- checkpoints
    def _resume(self):
        """(first epoch to train, global step) after loading the checkpoint the config asks for."""
        cfg = self.cfg
        last = get_last_checkpoint(cfg.OUTPUT_DIR) if cfg.TRAIN.AUTO_RESUME else None
        if last is not None:
            logger.info("resuming from %s", last)
            info = load_checkpoint(last, self.model, self.optimizer)
            _warn_on_another_schedule(last, info.get("cfg"), cfg.SOLVER.MAX_EPOCH)
        elif cfg.TRAIN.CHECKPOINT_FILE_PATH:
            reset = cfg.TRAIN.CHECKPOINT_EPOCH_RESET
            logger.info("initialising weights from %s%s", cfg.TRAIN.CHECKPOINT_FILE_PATH,
                        " (epoch reset)" if reset else "")
            info = load_checkpoint(cfg.TRAIN.CHECKPOINT_FILE_PATH, self.model,
                                   None if reset else self.optimizer, strict=False, new_classifier=True)
            if reset:
                return 0, 0
        else:
            return 0, 0
        if self.scaler is not None and info.get("scaler_state"):
            self.scaler.load_state_dict(info["scaler_state"])
        # PySlowFast stores the 0-based index of the last finished epoch.
        start_epoch = 0 if info["epoch"] is None else info["epoch"] + 1
        return start_epoch, info.get("step", start_epoch * len(self.train_loader))

    def _save(self, epoch: int) -> None:
        """Checkpoint after ``epoch`` (0-based), as ``checkpoint_epoch_{epoch + 1:05d}.pyth``."""
        if not du.is_master_proc():
            return
        extra = {"step": self.step}
        if self.scaler is not None:
            extra["scaler_state"] = self.scaler.state_dict()
        path = save_checkpoint(checkpoint_path(self.cfg.OUTPUT_DIR, epoch + 1), self.model, self.optimizer,
                               epoch=epoch, cfg=self.cfg, **extra)
        logger.info("wrote checkpoint %s", path)

    # --------------------------------------------------------------------------- training
    def train_epoch(self, epoch: int) -> None:
        cfg, loader = self.cfg, self.train_loader
        n_iters, max_epoch = len(loader), cfg.SOLVER.MAX_EPOCH
        set_epoch(loader, epoch)
        self.ddp_model.train()
        loss, loss_full, loss_min = AverageMeter(), AverageMeter(), AverageMeter()
        hits = torch.zeros(3, dtype=torch.float64)  # full config: top-1, top-5, items (this rank)
        timer = IterTimer()
        bar = tqdm(total=n_iters, desc=f"epoch {epoch + 1}/{max_epoch}", leave=False, dynamic_ncols=True,
                   disable=not (du.is_master_proc() and sys.stdout.isatty()))
        lr = self.schedule(epoch)
        for it, (inputs, labels, _, _) in enumerate(loader):
            timer.data_ready()
            inputs, labels = du.to_device(inputs, self.device), du.to_device(labels, self.device)
            lr = self.schedule(epoch + it / n_iters)
            set_lr(self.optimizer, lr)
            configs = self.sampler.sample(self.step)
            try:
                result = mutual_step(
                    self.ddp_model, inputs, labels, configs, self.optimizer, self.label_loss,
                    distill_weight=cfg.MUTUALNET.DISTILL_WEIGHT, inplace_distill=cfg.MUTUALNET.INPLACE_DISTILL,
                    reduce_pathways=self.sampler.space.reduce_pathways,
                    scaler=self.scaler,
                )
            except NonFiniteLossError as e:
                where = f"step {self.step} (epoch {epoch + 1}/{max_epoch}, iter {it + 1}/{n_iters}, lr {lr:.4g})"
                self.stats.write({"_type": "diverged", "epoch": f"{epoch + 1}/{max_epoch}", "iter": f"{it + 1}/{n_iters}",
                                  "step": self.step, "config": str(e.config), "loss": e.loss, "lr": lr}, self.step)
                raise NonFiniteLossError(e.config, e.loss, where) from None
            self.step += 1
            batch = labels.shape[0]
            top1, top5 = topk_correct(result.logits.float(), labels)
            hits += torch.tensor([top1, top5, batch], dtype=torch.float64)
            loss.update(result.loss, batch)
            loss_full.update(result.losses[0], batch)
            loss_min.update(result.losses[-1], batch)
            timer.step_done()
            bar.set_postfix(loss=f"{result.loss:.3f}", lr=f"{lr:.3g}")
            bar.update()
            if (it + 1) % cfg.LOG_PERIOD == 0:
                eta = timer.iteration.avg * ((max_epoch - epoch) * n_iters - it - 1)
                self.stats.write({
                    "_type": "train_iter", "epoch": f"{epoch + 1}/{max_epoch}", "iter": f"{it + 1}/{n_iters}",
                    "step": self.step, "loss": result.loss, "lr": lr,
                    "top1_err": 100.0 * (1 - top1 / batch), "top5_err": 100.0 * (1 - top5 / batch),
                    "time_diff": timer.last_iter, "time_data": timer.last_data,
                    "eta": str(datetime.timedelta(seconds=int(eta))),
                    "configs": [str(c) for c in result.configs], "config_losses": result.losses,
                    **self._memory(),
                }, self.step)
        bar.close()
        top1, top5, n = du.all_reduce_sum(hits.to(self.device)).tolist()
        self.stats.write({
            "_type": "train_epoch", "epoch": f"{epoch + 1}/{max_epoch}", "step": self.step,
            "loss": loss.avg, "loss_full": loss_full.avg, "loss_min_width": loss_min.avg, "lr": lr,
            "top1_err": 100.0 * (1 - top1 / max(n, 1)), "top5_err": 100.0 * (1 - top5 / max(n, 1)),
            "time_diff": timer.elapsed(), "time_data": timer.data.total, **self._memory(),
        }, self.step)

    def _memory(self):
        if self.device.type != "cuda":
            return {}
        return {"gpu_mem": f"{torch.cuda.max_memory_allocated(self.device) / 1024 ** 3:.2f}G"}

    def validate(self, epoch: int) -> None:
        """Top-1/top-5 of the full and the smallest config on the val split (``val_epoch`` record)."""
        if self.val_loader is None:
            self.val_loader = build_loader(self.cfg, "val")
        configs = list(dict.fromkeys([self.sampler.full, self.sampler.smallest]))
        logger.info("validation: single view per item, BN re-calibrated per config on %d training batches",
                    self.cfg.BN.NUM_BATCHES_PRECISE)
        results = evaluate(self.model, self.val_loader, configs, self.sampler.space, self.device,
                           amp=self.scaler is not None,
                           calibrate_bn=bn_calibrator(self.cfg, self.device))
        self.stats.write(accuracy_record("val_epoch", results, bn_calibrated=True,
                                         epoch=f"{epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}"), self.step)

    def fit(self) -> nn.Module:
        """Train from ``start_epoch`` to SOLVER.MAX_EPOCH; returns the (unwrapped) model."""
        cfg = self.cfg
        if self.start_epoch >= cfg.SOLVER.MAX_EPOCH:
            logger.info("nothing to train: the checkpoint is at epoch %d of %d", self.start_epoch, cfg.SOLVER.MAX_EPOCH)
        else:
            logger.info("training epochs %d..%d, %d iterations each", self.start_epoch + 1, cfg.SOLVER.MAX_EPOCH,
                        len(self.train_loader))
        with logging_redirect_tqdm():
            for epoch in range(self.start_epoch, cfg.SOLVER.MAX_EPOCH):
                seed_everything(cfg.RNG_SEED + 1_000 * (epoch + 1) + du.get_rank())
                self.train_epoch(epoch)
                if _is_period_epoch(cfg, epoch, cfg.TRAIN.CHECKPOINT_PERIOD):
                    self._save(epoch)
                if _is_period_epoch(cfg, epoch, cfg.TRAIN.EVAL_PERIOD):
                    self.validate(epoch)
        self.stats.close()
        return self.model


def train(cfg: CfgNode) -> nn.Module:
    """Train a slimmable model as ``cfg`` says; returns it."""
    return Trainer(cfg).fit()
