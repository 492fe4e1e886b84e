"""Which sub-network configs are trained at each step: ``ConfigSampler``.

The configs of a step are a function of ``(RNG_SEED, step)`` only, so every rank of a distributed
run trains exactly the same configs at the same step, with no communication, and a resumed run
continues with the configs it would have drawn.
"""
import math
import random
from typing import List

from fvcore.common.config import CfgNode

from ..budget.space import SubnetSpace
from ..config import SubnetConfig

# Random widths lie on this grid: it matches the two decimals of a config's name (``w0.53``), and
# keeps the slim layers' per-width caches bounded. The width rule itself moves in coarser steps.
WIDTH_GRID = 0.01


class ConfigSampler:
    """Samples the sub-network configs of one training step, following ``MUTUALNET.MODE``.

    - ``mutualnet``: the full config (max width, full crop and frames), then ``NUM_SUBNETS`` others:
      the min width plus random widths in ``WIDTH_RANGE`` (sandwich rule), each with a crop and a
      frame count drawn from the ``SubnetSpace`` ladders (the min width gets the smallest input if
      ``MIN_WIDTH_SMALLEST_INPUT``).
    - ``sandwich``: the same widths, every config at the full input (US-Nets).
    - ``static``: the full config only (the baseline).

    The list is ``[full] + others sorted by width, descending``, as in MutualNet's 2D code.

    Args:
        cfg: the config tree (MUTUALNET group, DATA sizes, RNG_SEED).
        seed: overrides ``cfg.RNG_SEED``.
    """

    def __init__(self, cfg: CfgNode, seed: int = None):
        self.mode = cfg.MUTUALNET.MODE
        self.seed = cfg.RNG_SEED if seed is None else seed
        self.space = SubnetSpace(cfg)
        self.min_width, self.max_width = self.space.width_range
        self.num_subnets = cfg.MUTUALNET.NUM_SUBNETS
        self.min_width_smallest_input = cfg.MUTUALNET.MIN_WIDTH_SMALLEST_INPUT
        self.full = self.space.full
        if self.mode == "mutualnet":
            self.crops, self.frames = self.space.crops, self.space.frames
        else:  # sandwich and static train at the full input only
            self.crops, self.frames = (self.full.crop,), (self.full.frames,)
        self.smallest = (
            self.full if self.mode == "static"
            else SubnetConfig(self.min_width, self.crops[-1], self.frames[-1])
        )

    def sample(self, step: int) -> List[SubnetConfig]:
        """The configs of training step ``step`` (full config first)."""
        if self.mode == "static" or self.num_subnets == 0:
            return [self.full]
        rng = random.Random(self.seed * 1_000_003 + step)
        lo = math.ceil(self.min_width / WIDTH_GRID - 1e-6)
        hi = max(lo, math.floor(self.max_width / WIDTH_GRID + 1e-6))
        widths = sorted((min(rng.randint(lo, hi) * WIDTH_GRID, self.max_width)
                         for _ in range(self.num_subnets - 1)), reverse=True)
        subs = [SubnetConfig(w, rng.choice(self.crops), rng.choice(self.frames)) for w in widths]
        if self.min_width_smallest_input:
            subs.append(self.smallest)
        else:
            subs.append(SubnetConfig(self.min_width, rng.choice(self.crops), rng.choice(self.frames)))
        return [self.full] + subs
