"""Slimmable 3D layers, the width rule and width switching. Knows nothing of pytorchvideo."""
from .layers import SLIM_LAYERS, SlimBatchNorm3d, SlimConv3d, SlimLinear, SlimMixin
from .rule import Segment, active_channels, channel_selection, full_spec, make_divisible
from .switch import active_num_params, get_width, set_width, slim_layers, width, width_range

__all__ = [
    "SLIM_LAYERS", "active_num_params", "Segment", "SlimBatchNorm3d", "SlimConv3d", "SlimLinear", "SlimMixin",
    "active_channels", "channel_selection", "full_spec", "get_width", "make_divisible",
    "set_width", "slim_layers", "width", "width_range",
]
