"""Config loading: PySlowFast files load unchanged; unknown keys and wrong types fail clearly."""
import logging
import pathlib

import pytest

from mutualnet_video.config import ConfigError, SubnetConfig, get_cfg, load_config, parse_args

PYSLOWFAST = pathlib.Path(__file__).parent / "fixtures" / "pyslowfast"


def test_defaults_have_pyslowfast_groups_and_mutualnet():
    cfg = get_cfg()
    for group in ("TRAIN", "TEST", "DATA", "SOLVER", "MODEL", "X3D", "SLOWFAST", "RESNET", "BN", "DATA_LOADER"):
        assert group in cfg
    for key in ("WIDTH_RANGE", "CROP_SIZES", "NUM_FRAMES_LIST", "NUM_SUBNETS", "WIDTH_DIVISOR",
                "SLIM_PATHWAYS", "EVAL_GRID"):
        assert key in cfg.MUTUALNET
    assert cfg.NUM_SHARDS == 1 and cfg.DATA.PATH_LABEL_SEPARATOR == " "


@pytest.mark.parametrize("name", ["X3D_M.yaml", "SLOWFAST_8x8_R50.yaml", "SSV2_SLOWFAST_16x8_R50.yaml"])
def test_pyslowfast_yaml_loads_unchanged(name, caplog):
    with caplog.at_level(logging.INFO):
        cfg = load_config([str(PYSLOWFAST / name)])
    assert cfg.MODEL.ARCH in ("x3d", "slowfast")
    assert isinstance(cfg.SOLVER.WARMUP_EPOCHS, float)  # `34` (int) coerced to the float key
    assert isinstance(cfg.SOLVER.WEIGHT_DECAY, float)  # `1e-4` is a str to YAML 1.1
    if name.startswith("SSV2"):
        assert cfg.MODEL.NUM_CLASSES == 174 and cfg.DATA.RANDOM_FLIP is False
        assert "BN.NORM_TYPE" in caplog.text  # accepted, reported as ignored


def test_base_lr_scaled_by_shards_once():
    cfg = load_config([str(PYSLOWFAST / "X3D_M.yaml")], ["NUM_SHARDS", "2"])
    assert cfg.SOLVER.BASE_LR == pytest.approx(0.2)
    assert cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS is False


def test_one_path_is_one_file(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text("TRAIN:\n  BATCH_SIZE: 3\n")
    for given in (str(path), path, [str(path)]):
        assert load_config(given).TRAIN.BATCH_SIZE == 3


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("TRAIN:\n  BATCH_SIZ: 4\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown config key TRAIN\.BATCH_SIZ"):
        load_config([str(path)])


def test_wrong_type_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("DATA:\n  NUM_FRAMES: sixteen\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: config key DATA\.NUM_FRAMES expects int"):
        load_config([str(path)])


def test_opts_override_and_errors():
    cfg = load_config([], ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", "TRAIN.BATCH_SIZE", "4"])
    assert cfg.MUTUALNET.WIDTH_RANGE == [0.5, 1.0] and cfg.TRAIN.BATCH_SIZE == 4
    with pytest.raises(ConfigError, match="unknown config key NOPE"):
        load_config([], ["NOPE.X", "1"])
    with pytest.raises(ConfigError, match="odd number"):
        load_config([], ["TRAIN.BATCH_SIZE"])
    with pytest.raises(ConfigError, match="WIDTH_RANGE"):
        load_config([], ["MUTUALNET.WIDTH_RANGE", "[0.0, 1.0]"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config([str(tmp_path / "nope.yaml")])
    bad = tmp_path / "broken.yaml"
    bad.write_text("TRAIN: [\n")
    with pytest.raises(ConfigError, match="broken.yaml: cannot parse"):
        load_config([str(bad)])


def test_command_line_accepts_opts_and_bare_trailing_pairs():
    args = parse_args(["--cfg", "a.yaml", "b.yaml", "TRAIN.BATCH_SIZE", "4", "--opts", "NUM_GPUS", "0"])
    assert args.cfg_files == ["a.yaml", "b.yaml"]
    assert args.opts == ["TRAIN.BATCH_SIZE", "4", "NUM_GPUS", "0"]
    args = parse_args(["--cfg", "a.yaml", "--opts", "SOLVER.BASE_LR", "0.5"])
    assert args.opts == ["SOLVER.BASE_LR", "0.5"]


def test_subnet_config_names_round_trip():
    sub = SubnetConfig(0.5, 160, 8)
    assert str(sub) == "w0.50-c160-t8"
    assert SubnetConfig.parse("w0.50-c160-t8") == sub
    assert len({sub, SubnetConfig(0.5, 160, 8)}) == 1
    with pytest.raises(ValueError):
        SubnetConfig(0.0, 160, 8)
