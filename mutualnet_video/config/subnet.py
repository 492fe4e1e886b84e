"""``SubnetConfig``: the one name for an operating point, shared by every stage.

The trainer samples them, the loader derives inputs for them, BN calibration keys its bank by them,
the curve has a row per config, the query table returns one and the exporter builds one.
"""
import dataclasses
import re


@dataclasses.dataclass(frozen=True, order=True)
class SubnetConfig:
    """A sub-network: width multiplier, spatial crop and frame count.

    For SlowFast, ``frames`` is the Slow pathway's frame count (the Fast pathway follows from
    ALPHA and ``MUTUALNET.REDUCE_PATHWAYS``). Printed as ``w0.50-c160-t8``.
    """

    width: float
    crop: int
    frames: int

    def __post_init__(self):
        object.__setattr__(self, "width", round(float(self.width), 6))
        object.__setattr__(self, "crop", int(self.crop))
        object.__setattr__(self, "frames", int(self.frames))
        if not (0 < self.width <= 1 and self.crop > 0 and self.frames > 0):
            raise ValueError(f"invalid sub-network config {self!r}")

    def __str__(self) -> str:
        return f"w{self.width:.2f}-c{self.crop}-t{self.frames}"

    @classmethod
    def parse(cls, name: str) -> "SubnetConfig":
        """Inverse of ``str()``: ``SubnetConfig.parse("w0.50-c160-t8")``."""
        m = re.fullmatch(r"w([0-9.]+)-c(\d+)-t(\d+)", name.strip())
        if not m:
            raise ValueError(f"not a sub-network config name (expected like w0.50-c160-t8): {name!r}")
        return cls(float(m.group(1)), int(m.group(2)), int(m.group(3)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
