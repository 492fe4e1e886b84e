"""Width-switchable Conv3d, BatchNorm3d and Linear.

Each keeps the full-size parameters of the layer it replaces (same names, so state dicts are
unchanged) and, at the current width, computes with the active slice only. At width 1.0 every layer
runs the parent class's own forward, so the converted model is numerically the original.
"""
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .onednn import conv3d
from .rule import ChannelSpec, Selection, channel_selection, full_spec, selection_size


def take_channels(tensor: torch.Tensor, dim: int, selection: Selection) -> torch.Tensor:
    """The active part of ``tensor`` along ``dim``: a view for a prefix, a gather otherwise."""
    if isinstance(selection, int):
        return tensor.narrow(dim, 0, selection)
    return tensor.index_select(dim, selection.to(tensor.device))


class SlimMixin:
    """Width state shared by the slim layers.

    Attributes:
        in_spec / out_spec: the segments of the input / output channels (see ``slim.rule``).
        width: the current width multiplier; ``width_range`` the trained [min, max].
        divisor: channel rounding of the width rule.
    """

    def _init_slim(self, in_spec: ChannelSpec, out_spec: ChannelSpec, divisor: int, width_range) -> None:
        self.in_spec, self.out_spec = tuple(in_spec), tuple(out_spec)
        self.divisor = divisor
        self.width_range = tuple(width_range)
        self.width = self.width_range[1]  # the full network
        # width -> (input selection, output selection, whether that is the whole layer)
        self._selections: Dict[float, Tuple[Selection, Selection, bool]] = {}
        # width -> (source tensors, their (id, version) stamps, what was made of them): see ``_reuse``
        self._inference_params: Dict[float, Tuple[tuple, list, tuple]] = {}

    def switch(self, width: float) -> None:
        """Compute at ``width`` from now on (``slim.set_width`` checks the range). Inference copies
        of the parameters are dropped: they are kept only while one width stays set."""
        self.width = width
        self._inference_params.clear()

    def _reuse(self, sources: tuple, make: Callable[[], tuple]) -> tuple:
        """``make()``, computed once per width and reused while ``sources`` are the same tensor
        objects at the same versions (an optimizer step, ``load_state_dict`` or ``.to()`` all move
        them on). For inference only: the results carry no autograd history.

        It runs on every inference call of every layer, so the check is kept to one list compare:
        the cache holds ``sources`` themselves, so their ids cannot be reused by other tensors.
        An in-place change through ``.data`` does not move a version: within one width the copy
        made before it would be reused (any width switch drops it)."""
        stamps = [None if t is None else (id(t), t._version) for t in sources]
        cached = self._inference_params.get(self.width)
        if cached is None or cached[1] != stamps:
            cached = self._inference_params[self.width] = (sources, stamps, make())
        return cached[2]

    def set_specs(self, in_spec: ChannelSpec = None, out_spec: ChannelSpec = None) -> None:
        if in_spec is not None:
            assert sum(s.channels for s in in_spec) == sum(s.channels for s in self.in_spec), in_spec
            self.in_spec = tuple(in_spec)
        if out_spec is not None:
            assert sum(s.channels for s in out_spec) == sum(s.channels for s in self.out_spec), out_spec
            self.out_spec = tuple(out_spec)
        self._selections.clear()
        self._inference_params.clear()

    def selections(self, width: float = None) -> Tuple[Selection, Selection]:
        """(input selection, output selection) at ``width`` (default: the current width)."""
        return self._selected(width)[:2]

    def _selected(self, width: float = None) -> Tuple[Selection, Selection, bool]:
        width = self.width if width is None else width
        selected = self._selections.get(width)
        if selected is None:
            i = channel_selection(self.in_spec, width, self.divisor)
            o = channel_selection(self.out_spec, width, self.divisor)
            full = isinstance(i, int) and isinstance(o, int) and (i, o) == self.full_shape()
            selected = self._selections[width] = (i, o, full)
        return selected

    def active_shape(self, width: float = None) -> Tuple[int, int]:
        """(active input channels, active output channels) at ``width``."""
        i, o = self.selections(width)
        return selection_size(i), selection_size(o)

    def is_full(self) -> bool:
        """Whether the current width keeps every channel (the layer runs as the original)."""
        return self._selected()[2]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", width={self.width}"


class SlimConv3d(SlimMixin, nn.Conv3d):
    """Conv3d whose active input/output channels follow the width.

    Dense convs slice both channel axes. A grouped conv (depthwise/channel-wise included) keeps
    its channels per group and runs fewer groups: at width w it has
    ``active_out / (out_channels / groups)`` groups.
    """

    @classmethod
    def from_dense(cls, conv: nn.Conv3d, divisor: int = 8, width_range=(0.25, 1.0)) -> "SlimConv3d":
        if conv.padding_mode != "zeros":
            raise ValueError(f"SlimConv3d supports padding_mode='zeros' only, got {conv.padding_mode}")
        new = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
            device="meta",
        )
        new.weight, new.bias = conv.weight, conv.bias
        new._init_slim(full_spec(conv.in_channels), full_spec(conv.out_channels), divisor, width_range)
        return new

    def full_shape(self) -> Tuple[int, int]:
        return self.in_channels, self.out_channels

    def active_groups(self, width: float = None) -> int:
        if self.groups == 1:
            return 1
        n_in, n_out = self.active_shape(width)
        per_group_out = self.out_channels // self.groups
        per_group_in = self.in_channels // self.groups
        if n_out % per_group_out or n_out // per_group_out * per_group_in != n_in:
            raise ValueError(
                f"grouped conv {self.in_channels}->{self.out_channels} (groups={self.groups}) cannot run "
                f"with {n_in}->{n_out} active channels: the width rule must keep whole groups"
            )
        return n_out // per_group_out

    def active_num_params(self, width: float) -> int:
        n_in, n_out = self.active_shape(width)
        per_filter = n_in // self.active_groups(width) * self.weight[0, 0].numel()
        return n_out * per_filter + (n_out if self.bias is not None else 0)

    def active_params(self) -> Tuple[torch.Tensor, Optional[torch.Tensor], int]:
        """(weight, bias, groups) of the active channels at the current width.

        With gradients enabled: slices of the parameters (gradients reach the full tensors). Without
        (inference): contiguous copies, made once while the width and the parameters stay the same
        (``_reuse``), so an evaluation does not re-slice and re-copy them every call.
        """
        if torch.is_grad_enabled():
            return (*self._slice_params(), self.active_groups())

        def make():
            weight, bias = self._slice_params()
            return weight.contiguous(), bias, self.active_groups()

        return self._reuse((self.weight, self.bias), make)

    def _slice_params(self) -> Tuple[torch.Tensor, torch.Tensor]:
        in_sel, out_sel = self.selections()
        weight = take_channels(self.weight, 0, out_sel)
        if self.groups == 1:
            weight = take_channels(weight, 1, in_sel)
        bias = None if self.bias is None else take_channels(self.bias, 0, out_sel)
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_in_active, T, H, W) -> (N, C_out_active, T', H', W')
        if self.is_full():
            return super().forward(x)
        weight, bias, groups = self.active_params()
        return conv3d(x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        # nn.Conv3d.forward's kernel call (padding_mode 'zeros' only, see from_dense), through ``conv3d``:
        # F.conv3d itself in inference, faster CPU kernels for depthwise and pointwise convs in training
        # (slim/onednn.py)
        return conv3d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class SlimBatchNorm3d(SlimMixin, nn.BatchNorm3d):
    """BatchNorm3d over the active channels, sharing affine parameters and running statistics
    across widths (statistics are re-calibrated per sub-network config after training)."""

    @classmethod
    def from_dense(cls, bn: nn.BatchNorm3d, divisor: int = 8, width_range=(0.25, 1.0)) -> "SlimBatchNorm3d":
        new = cls(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                  track_running_stats=bn.track_running_stats, device="meta")
        for name, p in bn.named_parameters(recurse=False):
            setattr(new, name, p)
        for name, b in bn.named_buffers(recurse=False):
            setattr(new, name, b)
        new.train(bn.training)
        new._init_slim(full_spec(bn.num_features), full_spec(bn.num_features), divisor, width_range)
        return new

    def set_specs(self, in_spec: ChannelSpec = None, out_spec: ChannelSpec = None) -> None:
        spec = out_spec if out_spec is not None else in_spec
        super().set_specs(spec, spec)

    def full_shape(self) -> Tuple[int, int]:
        return self.num_features, self.num_features

    def active_num_params(self, width: float) -> int:
        return self.active_shape(width)[1] * (2 if self.affine else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_active, T, H, W) -> same shape
        if self.is_full():
            return super().forward(x)
        sel = self._selected()[1]
        if not isinstance(sel, int):
            raise NotImplementedError("SlimBatchNorm3d needs its active channels to be a prefix")
        mean, var, weight, bias = self.active_tensors(sel)
        if not self.training and mean is not None:  # inference with the running statistics
            return F.batch_norm(x, mean, var, weight, bias, False, 0.0, self.eps)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        track = mean is not None and self.track_running_stats  # else batch statistics only
        return F.batch_norm(x, mean if track else None, var if track else None, weight, bias, True, factor, self.eps)

    def active_tensors(self, sel: int) -> Tuple[Optional[torch.Tensor], ...]:
        """Views of the first ``sel`` entries of (running mean, running var, weight, bias): updates
        land in the full tensors. Without gradients the views are made once while the width and the
        tensors stay the same (``_reuse``)."""
        tensors = (self.running_mean, self.running_var, self.weight, self.bias)

        def make():
            return tuple(None if t is None else t[:sel] for t in tensors)

        return make() if torch.is_grad_enabled() else self._reuse(tensors, make)


class SlimLinear(SlimMixin, nn.Linear):
    """Linear over the active input features; the class output usually stays full."""

    @classmethod
    def from_dense(cls, linear: nn.Linear, divisor: int = 8, width_range=(0.25, 1.0)) -> "SlimLinear":
        new = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta")
        new.weight, new.bias = linear.weight, linear.bias
        new._init_slim(full_spec(linear.in_features), full_spec(linear.out_features), divisor, width_range)
        return new

    def full_shape(self) -> Tuple[int, int]:
        return self.in_features, self.out_features

    def active_num_params(self, width: float) -> int:
        n_in, n_out = self.active_shape(width)
        return n_out * n_in + (n_out if self.bias is not None else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., F_in_active) -> (..., F_out_active)
        if self.is_full():
            return super().forward(x)
        in_sel, out_sel = self.selections()
        weight = take_channels(take_channels(self.weight, 0, out_sel), 1, in_sel)
        bias = None if self.bias is None else take_channels(self.bias, 0, out_sel)
        return F.linear(x, weight, bias)


SLIM_LAYERS = {nn.Conv3d: SlimConv3d, nn.BatchNorm3d: SlimBatchNorm3d, nn.Linear: SlimLinear}
