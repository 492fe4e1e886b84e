"""Kinetics (and any data set in its layout): PySlowFast's ``{train,val,test}.csv`` video lists.

``DATA.PATH_TO_DATA_DIR/<split>.csv`` holds one ``path<DATA.PATH_LABEL_SEPARATOR>label`` per line;
paths are joined to ``DATA.PATH_PREFIX``. Any container and codec FFmpeg reads (mp4, webm, mkv...),
any frame size, aspect ratio and frame rate.
"""
import os
from typing import List

from .annotations import read_path_label_csv
from .dataset import VideoClipDataset, VideoRecord, register_dataset


@register_dataset("kinetics")
class Kinetics(VideoClipDataset):
    """Kinetics clips: random clip sampling in train / val, uniform views in test."""

    default_sampling = "clip"

    @classmethod
    def read_records(cls, cfg, split: str) -> List[VideoRecord]:
        path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, f"{split}.csv")
        entries = read_path_label_csv(path, cfg.DATA.PATH_LABEL_SEPARATOR, cfg.MODEL.NUM_CLASSES)
        return [VideoRecord(os.path.join(cfg.DATA.PATH_PREFIX, video), label) for video, label, _ in entries]
