"""Budgets: FLOPs per config, BN calibration per config, accuracy-vs-GFLOPs curves and queries."""
from .calibrate import BNBank, calibrate_bn
from .curve import BudgetError, CURVE_KEYS, load_rows, pareto_frontier, query, save_rows, with_latencies
from .flops import COUNTED_OPS, count_gflops, model_stats

__all__ = [
    "BNBank", "BudgetError", "COUNTED_OPS", "CURVE_KEYS", "calibrate_bn", "count_gflops", "load_rows",
    "model_stats", "pareto_frontier", "query", "save_rows", "with_latencies",
]
