"""Budgets: the sub-network space, FLOPs per config, BN calibration per config (the bank), the
budget table (curve rows, the Pareto frontier, the one selection rule) and the plot."""
from .calibrate import BankStore, BNBank, bn_calibrator, calibrate_bn
from .flops import COUNTED_OPS, count_gflops, model_stats
from .space import SubnetSpace
from .table import CURVE_KEYS, ROW_KEYS, BudgetError, BudgetTable, pareto_frontier, row_config

__all__ = [
    "BNBank", "BankStore", "BudgetError", "BudgetTable", "COUNTED_OPS", "CURVE_KEYS", "ROW_KEYS", "SubnetSpace",
    "bn_calibrator", "calibrate_bn", "count_gflops", "model_stats", "pareto_frontier", "row_config",
]
