"""Something-Something v2, in PySlowFast's layout.

In ``DATA.PATH_TO_DATA_DIR``: ``something-something-v2-labels.json`` (template -> class id) and
``something-something-v2-{train,validation}.json`` (entries with ``id`` and ``template``, whose
``[`` ``]`` are stripped to find the class); val and test read ``validation``. Videos are
``DATA.PATH_PREFIX/<id>.webm``, or with ``DATA.USE_FRAMES`` the extracted frames listed in
PySlowFast's frame lists ``train.csv`` / ``val.csv`` (paths joined to ``DATA.PATH_PREFIX``; videos
missing from the list are left out, with a warning).

Temporal sampling is segment-based by default (one frame per segment, PySlowFast's rule). Labels
depend on direction ("pushing left to right"), so SSv2 configs set ``DATA.RANDOM_FLIP: False``; the key
is honoured, with a warning when it is on.
"""
import logging
import os
from typing import List

from .annotations import DatasetFormatError, check_label, iter_json_items, read_frame_list_csv, read_json_dict
from .dataset import VideoClipDataset, VideoRecord, register_dataset

logger = logging.getLogger(__name__)

LABELS_FILE = "something-something-v2-labels.json"


@register_dataset("ssv2")
class Ssv2(VideoClipDataset):
    """SSv2 clips (videos or extracted frames), segment sampling by default."""

    default_sampling = "segment"

    def __init__(self, cfg, split, sub=None):
        super().__init__(cfg, split, sub)
        if cfg.DATA.RANDOM_FLIP and split != "test":
            logger.warning(
                "DATA.RANDOM_FLIP is on for SSv2, whose labels depend on left/right direction; "
                "PySlowFast's SSv2 configs set it False"
            )

    @classmethod
    def read_records(cls, cfg, split: str) -> List[VideoRecord]:
        root = cfg.DATA.PATH_TO_DATA_DIR
        labels_path = os.path.join(root, LABELS_FILE)
        classes = {
            template: check_label(value, cfg.MODEL.NUM_CLASSES, labels_path, line)
            for template, (value, line) in read_json_dict(labels_path).items()
        }
        part = "train" if split == "train" else "validation"
        entries_path = os.path.join(root, f"something-something-v2-{part}.json")
        videos = []
        for key, entry, line in iter_json_items(entries_path):
            if isinstance(key, str):
                raise DatasetFormatError(entries_path, line, "expected a json array of videos, got an object")
            if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
                raise DatasetFormatError(entries_path, line, "each video needs 'id' and 'template'")
            template = str(entry["template"]).replace("[", "").replace("]", "")
            if template not in classes:
                raise DatasetFormatError(entries_path, line, f"template {template!r} is not in {labels_path}")
            videos.append((str(entry["id"]), classes[template]))
        if not cfg.DATA.USE_FRAMES:
            prefix = cfg.DATA.PATH_PREFIX
            return [VideoRecord(os.path.join(prefix, f"{vid}.webm"), label) for vid, label in videos]
        frame_list = os.path.join(root, "train.csv" if split == "train" else "val.csv")
        frames = read_frame_list_csv(frame_list, cfg.DATA.PATH_PREFIX)
        missing = [vid for vid, _ in videos if vid not in frames]
        if missing:
            logger.warning("%d of %d SSv2 %s videos have no frames in %s (left out), e.g. %s",
                           len(missing), len(videos), split, frame_list, missing[:3])
        return [VideoRecord(tuple(frames[vid]), label) for vid, label in videos if vid in frames]
