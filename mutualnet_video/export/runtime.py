"""The shared-weight artifact at run time: one set of weights, switching budget without reloading.

``slimmable.pyth`` (written by ``export_bundle``) holds the slimmable model's weights once, the BN
bank of every calibrated config and the query table. ``SlimmableRuntime.set_budget`` picks the best
config within a budget and switches width and BN statistics in place: the point of MutualNet on a
device whose budget changes.
"""
from typing import Dict, Optional

import torch

from ..budget.calibrate import BNBank
from ..budget.space import SubnetSpace
from ..budget.table import BudgetTable, row_config
from ..config import SubnetConfig, cfg_from_text
from ..models import build_model
from ..slim import set_width


class SlimmableRuntime:
    """``runtime = SlimmableRuntime.load("bundle/slimmable.pyth")``; ``runtime.set_budget(gflops=1.0)``;
    ``runtime(full_clip)`` runs the chosen config on a clip (the input is derived as in training)."""

    def __init__(self, model: torch.nn.Module, cfg, bank: BNBank, table):
        self.model, self.cfg, self.bank, self.table = model.eval(), cfg, bank, BudgetTable(table)
        self.space = SubnetSpace(cfg)
        self.config: Optional[SubnetConfig] = None

    @classmethod
    def load(cls, path: str) -> "SlimmableRuntime":
        state = torch.load(path, map_location="cpu", weights_only=True)
        cfg = cfg_from_text(state["cfg"], path)
        model = build_model(cfg)
        model.load_state_dict(state["model_state"], strict=True)
        return cls(model, cfg, BNBank.from_state_dict(state["bn_bank"]), state["query_table"])

    def set_budget(self, gflops: Optional[float] = None, latency_ms: Optional[float] = None) -> Dict:
        """Switch to the most accurate config of the query table within the budget; returns its row."""
        row = self.table.select(gflops=gflops, latency_ms=latency_ms)
        self.set_config(row_config(row))
        return row

    def set_config(self, sub: SubnetConfig) -> None:
        self.bank.apply(self.model, sub)
        set_width(self.model, sub.width)
        self.config = sub

    @torch.no_grad()
    def __call__(self, inputs):
        if self.config is None:
            raise RuntimeError("call set_budget(...) or set_config(...) first")
        return self.model(self.space.derive(inputs, self.config))
