"""The width rule: how many channels of a layer are active at a width multiplier.

One rule, applied identically to every layer, so that a layer's active output channels always equal
the next layer's active input channels. A channel dimension is described by its *segments*: a plain
layer has one, a layer reading ``cat([a, b])`` has one per concatenated tensor, and the active part
of the input is the active part of EACH segment (so a sub-network stays a true sub-network).
"""
from typing import NamedTuple, Sequence, Tuple, Union

import torch


def make_divisible(value: float, divisor: int = 8, min_value: int = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), never going more than 10% below ``value`` (MobileNet / MutualNet rounding)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class Segment(NamedTuple):
    """A run of channels in a layer's input or output: ``channels`` wide, slimmed if ``slim``."""

    channels: int
    slim: bool = True


ChannelSpec = Tuple[Segment, ...]


def full_spec(channels: int, slim: bool = True) -> ChannelSpec:
    return (Segment(channels, slim),)


def active_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Active channels of a slimmed run of ``channels`` at ``width`` (all of them at width 1)."""
    if width >= 1.0:
        return channels
    return min(channels, make_divisible(channels * width, divisor))


def segment_actives(spec: Sequence[Segment], width: float, divisor: int) -> Tuple[int, ...]:
    return tuple(active_channels(s.channels, width, divisor) if s.slim else s.channels for s in spec)


Selection = Union[int, torch.Tensor]


def channel_selection(spec: Sequence[Segment], width: float, divisor: int) -> Selection:
    """The active channels of ``spec`` at ``width``: an int ``n`` when they are the prefix
    ``[0, n)`` (one segment, or only the last one cut), else a LongTensor of indices."""
    actives = segment_actives(spec, width, divisor)
    if all(a == s.channels for a, s in zip(actives[:-1], spec[:-1])):
        return sum(actives)
    index, offset = [], 0
    for seg, n in zip(spec, actives):
        index.append(torch.arange(offset, offset + n))
        offset += seg.channels
    return torch.cat(index)


def selection_size(selection: Selection) -> int:
    return selection if isinstance(selection, int) else int(selection.numel())
