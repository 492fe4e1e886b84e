"""experiments/object_gradients.py: the factor groups, and the projections on a checkpoint whose
sub-networks are the full config itself (distillation's gradient vanishes, the labels' triples)."""
import json

import pytest
import torch

from data_prep.make_synthetic import make_synthetic
from experiments import object_gradients
from mutualnet_video.config import load_config
from mutualnet_video.models import build_model
from mutualnet_video.utils.checkpoint import checkpoint_path, save_checkpoint


def test_factor_groups_and_their_probabilities():
    groups = object_gradients.factor_index(["disc_left", "disc_up", "cross_left", "cross_up"])
    assert groups["object"].tolist() == [1, 1, 0, 0]  # cross < disc
    assert groups["direction"].tolist() == [0, 1, 0, 1]
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, -1.0]])
    probs = object_gradients.factor_probs(logits, groups["object"])
    assert probs[0].tolist() == pytest.approx([0.5, 0.5])
    torch.testing.assert_close(probs[1, 1], torch.softmax(logits[1], -1)[:2].sum())
    with pytest.raises(SystemExit, match="<object>_<direction>"):
        object_gradients.factor_index(["a", "b_c"])


def test_sub_networks_equal_to_the_full_config(tmp_path, capsys):
    data = make_synthetic(tmp_path / "data", num_classes=8, train_per_class=1, val_per_class=1, test_per_class=1,
                          frames=8, size=32).root  # 2 objects x 4 directions
    cfg = load_config("configs/demo/X3D_DEMO.yaml", [
        "DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data), "MODEL.NUM_CLASSES", "8",
        "TRAIN.BATCH_SIZE", "4", "DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2",
        "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "DATA.TRAIN_JITTER_SCALES", "[32, 32]",
        "MUTUALNET.WIDTH_RANGE", "[1.0, 1.0]", "MUTUALNET.CROP_SIZES", "[32]", "MUTUALNET.NUM_FRAMES_LIST", "[4]",
        "OUTPUT_DIR", str(tmp_path / "run")])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(cfg.dump())
    torch.manual_seed(0)
    save_checkpoint(checkpoint_path(cfg.OUTPUT_DIR, 3), build_model(cfg), epoch=2, cfg=cfg)

    for _ in range(2):
        assert object_gradients.main(["--run", cfg.OUTPUT_DIR, "--epochs", "3", "--batches", "2"]) == 0
    first, row = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert first == row  # the same batches and configs on every call
    assert row["epoch"] == 3 and 0 < row["p_object"] < 1 and 0 < row["p_direction"] < 1
    assert row["label"]["norm"] > 0
    assert row["distill"]["norm"] < 1e-5 * row["label"]["norm"]  # KL to its own prediction: at the minimum
    for key in ("norm", "on_object", "on_direction"):  # NUM_SUBNETS (3) copies of the full config's label loss
        assert row["sub_labels"][key] == pytest.approx(3 * row["label"][key], rel=1e-3, abs=1e-4)
