"""HMDB-51, read from its official split files (``testTrainMulti_7030_splits``).

In ``DATA.PATH_TO_DATA_DIR``: ``<class>_test_split<N>.txt`` per class, N = ``DATA.SPLIT``, lines
``<file>.avi <tag>`` with tag 1 = train, 2 = test, 0 = unused. Labels are the classes in alphabetical
order (0-based). Videos are ``DATA.PATH_PREFIX/<class>/<file>.avi`` (DivX AVIs, height 240, 30 fps).
Train reads the tag-1 videos; val and test the tag-2 ones.

A malformed line, a tag outside 0 / 1 / 2, more classes than ``MODEL.NUM_CLASSES`` or a listed video
that does not exist raises ``DatasetFormatError`` naming the file and line.
"""
import glob
import os
from typing import List

from .annotations import DatasetFormatError, check_label, existing_video, iter_fields, split_number
from .dataset import VideoClipDataset, VideoRecord, register_dataset

TAGS = {"train": "1", "val": "2", "test": "2"}  # and "0": in no set


@register_dataset("hmdb51")
class Hmdb51(VideoClipDataset):
    """HMDB-51 clips of split ``DATA.SPLIT``: random clip sampling in train, uniform views in test."""

    default_sampling = "clip"

    @classmethod
    def read_records(cls, cfg, split: str) -> List[VideoRecord]:
        root, prefix = cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX
        suffix = f"_test_split{split_number(cfg)}.txt"
        pattern = os.path.join(glob.escape(root), f"*{suffix}")
        files = {os.path.basename(p)[: -len(suffix)]: p for p in glob.glob(pattern)}
        if not files:
            raise DatasetFormatError(root, 0, f"no HMDB-51 split files *{suffix} (DATA.PATH_TO_DATA_DIR)")
        records = []
        for label, name in enumerate(sorted(files)):  # by class name: "climb" before "climb_stairs"
            path = files[name]
            check_label(label, cfg.MODEL.NUM_CLASSES, path, 0)
            for number, fields, line in iter_fields(path):
                if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                    raise DatasetFormatError(path, number, f"expected '<file>.avi <tag 0, 1 or 2>', got {line!r}")
                if fields[1] == TAGS[split]:
                    records.append(VideoRecord(existing_video(prefix, os.path.join(name, fields[0]), path, number),
                                               label))
        return records
