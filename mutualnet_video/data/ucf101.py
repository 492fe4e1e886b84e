"""UCF-101, read from its official split files (``ucfTrainTestlist``).

In ``DATA.PATH_TO_DATA_DIR``: ``classInd.txt`` (``1 ApplyEyeMakeup``: 1-based index, class name),
``trainlist0N.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``: path and 1-based class) and
``testlist0N.txt`` (the path only: the class is its folder), N = ``DATA.SPLIT``. Videos are
``DATA.PATH_PREFIX/<path>`` (class folders of Xvid AVIs, 320x240, 25 fps). Train reads the train
list; val and test read the test list (UCF-101 has no validation set).

A malformed line, a class outside ``classInd.txt`` or ``MODEL.NUM_CLASSES``, a label that disagrees
with the folder, or a listed video that does not exist raises ``DatasetFormatError`` naming the file
and line.
"""
import os
from typing import Dict, List

from .annotations import DatasetFormatError, check_label, existing_video, iter_fields, split_number
from .dataset import VideoClipDataset, VideoRecord, register_dataset

CLASS_INDEX_FILE = "classInd.txt"


def read_class_index(path: str, num_classes: int) -> Dict[str, int]:
    """Class name -> 0-based label, from ``classInd.txt`` lines ``<1-based index> <name>``."""
    classes: Dict[str, int] = {}
    for number, fields, line in iter_fields(path):
        if len(fields) != 2 or not fields[0].isdigit():
            raise DatasetFormatError(path, number, f"expected '<index> <class name>', got {line!r}")
        if fields[1] in classes:
            raise DatasetFormatError(path, number, f"class {fields[1]!r} listed twice")
        classes[fields[1]] = check_label(int(fields[0]) - 1, num_classes, path, number)
    if not classes:
        raise DatasetFormatError(path, 0, "no classes listed")
    return classes


@register_dataset("ucf101")
class Ucf101(VideoClipDataset):
    """UCF-101 clips of split ``DATA.SPLIT``: random clip sampling in train, uniform views in test."""

    default_sampling = "clip"

    @classmethod
    def read_records(cls, cfg, split: str) -> List[VideoRecord]:
        root, prefix = cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX
        number = split_number(cfg)
        classes = read_class_index(os.path.join(root, CLASS_INDEX_FILE), cfg.MODEL.NUM_CLASSES)
        path = os.path.join(root, f"{'train' if split == 'train' else 'test'}list{number:02d}.txt")
        records = []
        for line_number, fields, line in iter_fields(path):
            video = fields[0].replace("\\", "/")
            folder = video.split("/")[0]
            if len(fields) > 2 or "/" not in video:
                raise DatasetFormatError(path, line_number, f"expected '<class>/<file>.avi [label]', got {line!r}")
            if folder not in classes:
                raise DatasetFormatError(path, line_number, f"class folder {folder!r} is not in {CLASS_INDEX_FILE}")
            label = classes[folder]
            if len(fields) == 2 and fields[1] != str(label + 1):
                raise DatasetFormatError(path, line_number, f"label {fields[1]!r} disagrees with the folder "
                                         f"{folder!r}: class {label + 1} (1-based) in {CLASS_INDEX_FILE}")
            records.append(VideoRecord(existing_video(prefix, video, path, line_number), label))
        return records
