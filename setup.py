"""mutualnet_video: one 3D video network (X3D, SlowFast, Slow) trained to run at many compute budgets."""
from setuptools import find_packages, setup

setup(
    name="mutualnet_video",
    version="0.1.0",
    description="MutualNet for video: slimmable X3D / SlowFast / Slow trained by mutual learning "
    "over width x spatial size x frames, with BN calibration, budget curves and multi-budget export.",
    python_requires=">=3.10",
    packages=find_packages(include=["mutualnet_video", "mutualnet_video.*"]),
    install_requires=[
        "torch>=2.4",  # torch.is_autocast_enabled(device_type)
        "torchvision>=0.16",
        "pytorchvideo==0.1.5",
        "fvcore>=0.1.5.post20221221",
        "av>=17",  # reformat(threads=...): see data/decoders.py
        "decord>=0.6.0",
        "simplejson>=3.17",
        "numpy>=1.24",
        "pyyaml>=6",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        "test": ["pytest>=7"],
        "export": ["onnx>=1.15", "onnxruntime>=1.17"],
        "tensorboard": ["tensorboard>=2.12"],
    },
)
