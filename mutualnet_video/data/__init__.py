"""Video clips for training and evaluation: decoders, sampling, transforms, data sets, loaders.

Public API::

    build_dataset(cfg, split, sub=None) -> VideoClipDataset
    build_loader(cfg, split, sub=None) -> DataLoader   # batches (inputs, labels, indices, meta)
    set_epoch(loader, epoch)
    derive_input(inputs, sub, reduce_pathways=(0,))  # a sub-network's input from the full batch
    open_video(source, backend) / decode(source, frame_indices, backend) / probe(source, backend)

Data sets (``TRAIN.DATASET`` / ``TEST.DATASET``): ``kinetics``, ``ssv2``, ``ucf101``, ``hmdb51``.

Errors: ``DatasetFormatError`` (annotation file and line, at construction), ``VideoDecodeError``
(one unreadable video: replaced and counted), ``VideoLoadError`` (retry budget exhausted).
"""
from .annotations import DatasetFormatError
from .build import build_dataset, build_loader, set_epoch
from .dataset import DATASETS, VideoClipDataset, VideoLoadError, VideoRecord, register_dataset
from .decoders import BACKENDS, VideoDecodeError, VideoReader, decode, open_video, probe, resolve_backend
from .derive import derive_input
from .hmdb51 import Hmdb51
from .kinetics import Kinetics
from .sampling import TemporalSampling, pack_pathways
from .ssv2 import Ssv2
from .transforms import SpatialTransform
from .ucf101 import Ucf101

__all__ = [
    "BACKENDS",
    "DATASETS",
    "DatasetFormatError",
    "Hmdb51",
    "Kinetics",
    "SpatialTransform",
    "Ssv2",
    "TemporalSampling",
    "Ucf101",
    "VideoClipDataset",
    "VideoDecodeError",
    "VideoLoadError",
    "VideoReader",
    "VideoRecord",
    "build_dataset",
    "build_loader",
    "decode",
    "derive_input",
    "open_video",
    "pack_pathways",
    "probe",
    "register_dataset",
    "resolve_backend",
    "set_epoch",
]
