"""Slimmable X3D / SlowFast / Slow retrofitted from pytorchvideo's builders; ``build_model(cfg)``."""
from . import resnet, slowfast, x3d  # noqa: F401  (registers the architectures)
from .registry import MODEL_REGISTRY, build_model, register_model
from .retrofit import fix_input, fix_output, freeze_width, retrofit

__all__ = ["MODEL_REGISTRY", "build_model", "fix_input", "fix_output", "freeze_width", "register_model", "retrofit"]
