"""Tiny models and configs for the engine tests (CPU, a fraction of a second per step)."""
import pytest
import torch

from mutualnet_video.config import get_cfg


def tiny_cfg(**overrides):
    """A tiny X3D: 10 classes, 4 frames at 32 px, width range [0.5, 1]."""
    cfg = get_cfg()
    cfg.MODEL.ARCH = "x3d"
    cfg.MODEL.NUM_CLASSES = 10
    cfg.MODEL.DROPOUT_RATE = 0.0
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.BOTTLENECK_FACTOR = 0.5, 1.0, 2.25
    cfg.X3D.DIM_C5 = 64
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE = 4, 32
    cfg.MUTUALNET.WIDTH_RANGE = [0.5, 1.0]
    cfg.MUTUALNET.CROP_SIZES, cfg.MUTUALNET.NUM_FRAMES_LIST = [32, 24, 16], [4, 2]
    cfg.NUM_GPUS = 0
    for key, value in overrides.items():
        node = cfg
        *groups, leaf = key.split(".")
        for g in groups:
            node = node[g]
        node[leaf] = value
    return cfg


@pytest.fixture
def cfg():
    return tiny_cfg()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, 4, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """A tiny synthetic data set (2 classes, 4 train / 2 val / 2 test videos each, 32 px)."""
    from data_prep.make_synthetic import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synthetic"), num_classes=2, train_per_class=4,
                          val_per_class=2, test_per_class=2, frames=16, size=32, fps=15)


def run_cfg_yaml(tmp_path, data, **overrides) -> str:
    """A YAML config for ``tools/run_net.py``: the tiny X3D on ``data``, 2 epochs of 2 iterations."""
    cfg = tiny_cfg(**{
        "MODEL.NUM_CLASSES": len(data.classes),
        "DATA.PATH_TO_DATA_DIR": str(data.root), "DATA.PATH_PREFIX": str(data.root),
        "DATA.SAMPLING_RATE": 4, "DATA.TRAIN_JITTER_SCALES": [32, 40], "DATA.TEST_CROP_SIZE": 32,
        "DATA.RANDOM_FLIP": False, "DATA_LOADER.NUM_WORKERS": 0, "DATA_LOADER.PIN_MEMORY": False,
        "TRAIN.BATCH_SIZE": 4, "TEST.BATCH_SIZE": 4, "TEST.NUM_ENSEMBLE_VIEWS": 1, "TEST.NUM_SPATIAL_CROPS": 1,
        "SOLVER.MAX_EPOCH": 2, "SOLVER.BASE_LR": 0.05, "SOLVER.WARMUP_EPOCHS": 0.0,
        "TRAIN.EVAL_PERIOD": 1, "TRAIN.CHECKPOINT_PERIOD": 1, "LOG_PERIOD": 1, "RNG_SEED": 0,
        "BN.NUM_BATCHES_PRECISE": 1, "MUTUALNET.EVAL_GRID.WIDTHS": [0.5, 1.0],
        "MUTUALNET.EVAL_GRID.CROPS": [32, 16], "MUTUALNET.EVAL_GRID.FRAMES": [4],
        "OUTPUT_DIR": str(tmp_path / "run"), **overrides,
    })
    path = tmp_path / "tiny.yaml"
    path.write_text(cfg.dump())
    return str(path)
