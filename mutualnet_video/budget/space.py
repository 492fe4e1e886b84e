"""``SubnetSpace``: every sub-network config a run can train, evaluate or export, and the input each
one takes. Built from the config and the architecture registered with the model, it is the one place
that knows the full config, the crop and frame ladders, the evaluation grid, the test crop and the
per-pathway input shapes; the sampler, the grid, FLOP counting and export ask it.
"""
import functools
import itertools
from typing import List, Sequence, Tuple

import torch
from fvcore.common.config import CfgNode

from ..config import ConfigError, SubnetConfig
from ..data.derive import Inputs, derive_input
from ..models.registry import get_arch

# Default spatial ladder, relative to the full crop: MutualNet's 224, 192, 160, 128.
CROP_RATIOS = (1.0, 6 / 7, 5 / 7, 4 / 7)
# Default temporal ladder, relative to the full frame count.
FRAME_RATIOS = (1.0, 3 / 4, 1 / 2)


def _ladder(values: Sequence[int], full: int, key: str, full_name: str) -> Tuple[int, ...]:
    values = sorted({int(v) for v in values}, reverse=True)
    if values[0] > full or values[-1] < 1:
        raise ConfigError(f"{key} = {values} must lie in [1, {full}] ({full_name}): sub-network "
                          "inputs are derived by downscaling the full clip")
    return tuple(values)


class SubnetSpace:
    """The sub-network configs of one model, and their inputs.

    Attributes:
        arch: the registered :class:`~mutualnet_video.models.registry.Architecture`.
        frame_ratios: per input pathway, frames per frame of pathway 0 (``(1,)``; SlowFast ``(1, alpha)``).
        reduce_pathways: the pathways fed a sub-network's reduced frames and crop.
        full: max width, DATA.TRAIN_CROP_SIZE, the full frames (pathway 0's: Slow frames for SlowFast).
        smallest: min width at the smallest crop and frame count.
        crops / frames: the ladders, descending (MUTUALNET.CROP_SIZES / NUM_FRAMES_LIST, or the
            full config times ``CROP_RATIOS`` / ``FRAME_RATIOS``).
        width_range: MUTUALNET.WIDTH_RANGE.
    """

    def __init__(self, cfg: CfgNode):
        self.arch = get_arch(cfg.MODEL.ARCH)
        self.frame_ratios = self.arch.frame_ratios(cfg)
        self.reduce_pathways = self.arch.reduce_pathways(cfg)
        self.mode = cfg.MUTUALNET.MODE
        self.width_range = tuple(cfg.MUTUALNET.WIDTH_RANGE)
        self.full = SubnetConfig(self.width_range[1], cfg.DATA.TRAIN_CROP_SIZE,
                                 cfg.DATA.NUM_FRAMES // max(self.frame_ratios))
        self._crop_sizes, self._frame_counts = cfg.MUTUALNET.CROP_SIZES, cfg.MUTUALNET.NUM_FRAMES_LIST
        grid = cfg.MUTUALNET.EVAL_GRID
        self._grid = (grid.WIDTHS, grid.CROPS, grid.FRAMES)
        self._test_scale = cfg.DATA.TEST_CROP_SIZE / cfg.DATA.TRAIN_CROP_SIZE
        self._sampling_rate = cfg.DATA.SAMPLING_RATE

    # ------------------------------------------------------------------------- the configs
    # The ladders are checked against the full config when first used: a static run at a crop below
    # an inherited ladder never uses it.
    @functools.cached_property
    def crops(self) -> Tuple[int, ...]:
        full = self.full.crop
        return _ladder(self._crop_sizes or [max(8, round(full * r / 8) * 8) for r in CROP_RATIOS],
                       full, "MUTUALNET.CROP_SIZES", "DATA.TRAIN_CROP_SIZE")

    @functools.cached_property
    def frames(self) -> Tuple[int, ...]:
        full = self.full.frames
        return _ladder(self._frame_counts or [max(1, round(full * r)) for r in FRAME_RATIOS],
                       full, "MUTUALNET.NUM_FRAMES_LIST", "the full config's frames")

    @property
    def smallest(self) -> SubnetConfig:
        return SubnetConfig(self.width_range[0], self.crops[-1], self.frames[-1])

    def eval_grid(self) -> List[SubnetConfig]:
        """``MUTUALNET.EVAL_GRID`` widths x crops x frames, largest first. Empty lists default to the
        training ranges: 4 widths evenly over WIDTH_RANGE, the crop and frame ladders. A static model
        (MODE static) has its one config."""
        lo, hi = self.width_range
        widths, crops, frames = self._grid
        if self.mode == "static" and not (widths or crops or frames):
            return [self.full]
        widths = widths or sorted({round(lo + (hi - lo) * i / 3, 4) for i in range(4)})
        crops = crops or self.crops
        frames = frames or self.frames
        return sorted((SubnetConfig(w, c, t) for w, c, t in itertools.product(widths, crops, frames)), reverse=True)

    def test_config(self, sub: SubnetConfig) -> SubnetConfig:
        """``sub`` at the spatial size it is tested at: its crop scaled like TEST_CROP_SIZE /
        TRAIN_CROP_SIZE (PySlowFast trains at 224 and tests at 256; GFLOPs are reported at the
        training crop)."""
        return SubnetConfig(sub.width, round(sub.crop * self._test_scale), sub.frames)

    # ------------------------------------------------------------------------- the inputs
    def input_shapes(self, sub: SubnetConfig, batch: int = 1) -> List[Tuple[int, ...]]:
        """``[(N, 3, T, H, W)]`` per pathway for ``sub``; pathways outside ``reduce_pathways`` keep the
        full crop and frame count (SlowFast's Fast pathway: ``alpha * full.frames`` frames)."""
        shapes = []
        for p, ratio in enumerate(self.frame_ratios):
            s = sub if p in self.reduce_pathways else self.full
            shapes.append((batch, 3, s.frames * ratio, s.crop, s.crop))
        return shapes

    def dummy_input(self, sub: SubnetConfig, batch: int = 1) -> Inputs:
        """Random model input for ``sub``: a tensor, or one tensor per pathway."""
        tensors = [torch.randn(shape) for shape in self.input_shapes(sub, batch)]
        return tensors if len(tensors) > 1 else tensors[0]

    def derive(self, inputs: Inputs, sub: SubnetConfig) -> Inputs:
        """``sub``'s input derived from a batch of full clips (see ``data.derive.derive_input``)."""
        return derive_input(inputs, sub, self.reduce_pathways)

    def sampling_rate(self, sub: SubnetConfig) -> float:
        """DATA.SAMPLING_RATE for ``sub``'s frames: the full clip's time span, with fewer frames."""
        return self._sampling_rate * self.full.frames / sub.frames
