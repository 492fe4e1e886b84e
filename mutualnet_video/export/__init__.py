"""Export: static sub-networks, TorchScript / ONNX files, multi-budget bundles, the shared-weight runtime."""
from .bundle import Bundle, BundleError, InputSpec, export_bundle, load_bundle, sha256_file
from .extract import extract_subnet
from .formats import export_onnx, export_torchscript, load_static
from .latency import busy_cpu_warning, measure_latency
from .runtime import SlimmableRuntime

__all__ = [
    "Bundle", "BundleError", "InputSpec", "SlimmableRuntime", "busy_cpu_warning", "export_bundle", "export_onnx",
    "export_torchscript", "extract_subnet", "load_bundle", "load_static", "measure_latency", "sha256_file",
]
