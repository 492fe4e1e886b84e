"""Budgets: FLOPs and parameters per sub-network config."""
from .flops import COUNTED_OPS, count_gflops, model_stats

__all__ = ["COUNTED_OPS", "count_gflops", "model_stats"]
