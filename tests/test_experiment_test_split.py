"""TEST.SPLIT: the test-time (multi-view) evaluation reads the test list, or the val list."""
import pytest

from data_prep.make_synthetic import make_synthetic
from mutualnet_video.config import ConfigError, load_config
from mutualnet_video.data import build_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """2 classes: 2 val and 3 test videos per class, so the two lists differ in length and files."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_classes=2, train_per_class=2, val_per_class=2,
                          test_per_class=3, frames=8, size=32).root


def cfg_for(data, *opts):
    return load_config([], ["DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data), "MODEL.NUM_CLASSES", "2",
                            "MODEL.ARCH", "x3d", "TEST.NUM_ENSEMBLE_VIEWS", "3", "TEST.NUM_SPATIAL_CROPS", "1", *opts])


def sources(dataset):
    return [record.source for record in dataset.records]


def test_default_reads_the_test_list(data):
    dataset = build_dataset(cfg_for(data), "test")
    assert dataset.annotation_split == "test" and dataset.num_videos == 6
    assert sources(dataset) == sources(build_dataset(cfg_for(data, "TEST.SPLIT", "test"), "test"))


def test_val_split_gives_test_time_views_of_the_val_videos(data):
    val_views = build_dataset(cfg_for(data, "TEST.SPLIT", "val"), "test")
    val = build_dataset(cfg_for(data), "val")
    assert val_views.annotation_split == "val" and sources(val_views) == sources(val) and val_views.num_videos == 4
    assert val_views.views_per_video == 3 and len(val_views) == 12 and len(val) == 4  # val itself: one random view
    assert set(sources(val_views)).isdisjoint(sources(build_dataset(cfg_for(data), "test")))
    # the train and val splits do not depend on TEST.SPLIT
    assert sources(build_dataset(cfg_for(data, "TEST.SPLIT", "val"), "train")) == sources(build_dataset(cfg_for(data), "train"))


def test_unknown_test_split_is_an_error():
    with pytest.raises(ConfigError, match="TEST.SPLIT must be one of val, test"):
        load_config([], ["TEST.SPLIT", "train"])
