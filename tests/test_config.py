"""Config loading: PySlowFast files load unchanged; unknown keys and wrong types fail clearly."""
import ast
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


@pytest.mark.parametrize("key,value", [("MUTUALNET.MODE", "slimmable"), ("TEST.SPLIT", "train"),
                                       ("DATA.ENSEMBLE_METHOD", "mean")])
def test_a_value_outside_its_choices_is_refused_at_load(key, value):
    with pytest.raises(ConfigError, match=f"{key} must be one of .*, got '{value}'"):
        load_config([], [key, value])


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


# --- the schema says what the code does: every key is read by the code or listed as ignored, never both
ROOT = pathlib.Path(__file__).resolve().parents[1]
CODE_DIRS = ("mutualnet_video", "tools", "experiments", "data_prep", "bench")


def _leaf_keys(node, prefix=""):
    for name, value in node.items():
        if isinstance(value, dict):
            yield from _leaf_keys(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def _attribute_path(node):
    """``a.B.C`` -> ["a", "B", "C"]; None for anything but a chain of names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id] + parts[::-1] if isinstance(node, ast.Name) else None


def config_keys_read(groups, files):
    """Dotted config keys the code reads: attribute chains ``<any>.GROUP.KEY`` (``groups``: the dotted
    groups of the config tree), also through a local alias (``s = cfg.SOLVER`` ... ``s.BASE_LR``);
    and every attribute name, for the top-level keys (``cfg.RNG_SEED``). Callers intersect the
    result with the config's keys."""
    read = set()
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}  # local name -> the group path it was bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                chain = _attribute_path(node.value)
                if chain and len(chain) > 1 and ".".join(chain[1:]) in groups:
                    aliases[node.targets[0].id] = chain[1:]
        for node in ast.walk(tree):
            chain = _attribute_path(node) if isinstance(node, ast.Attribute) else None
            if not chain:
                continue
            names = aliases.get(chain[0], []) + chain[1:]
            read.add(names[-1])  # a top-level key (``cfg.RNG_SEED``); group-level names are filtered below
            for start in range(len(names)):
                for end in range(start + 2, len(names) + 1):
                    if ".".join(names[start:end - 1]) in groups:
                        read.add(".".join(names[start:end]))
    return read


def test_every_config_key_is_read_or_listed_as_ignored_never_both():
    from mutualnet_video.config.defaults import IGNORED_KEYS

    cfg = get_cfg()
    keys = set(_leaf_keys(cfg))
    groups = {k.rsplit(".", 1)[0] for k in keys if "." in k}
    groups |= {g.rsplit(".", 1)[0] for g in groups if "." in g}
    files = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py") if p.name != "defaults.py"]
    read = config_keys_read(groups, files) & keys

    def ignored(key):
        return any(key == i or key.startswith(i + ".") for i in IGNORED_KEYS)

    assert sorted(k for k in keys if k in read and ignored(k)) == []  # listed as ignored, but read
    assert sorted(k for k in keys if k not in read and not ignored(k)) == []  # neither read nor listed
    assert all(any(k == i or k.startswith(i + ".") for k in keys) for i in IGNORED_KEYS)  # no stale entry


def test_the_key_audit_sees_direct_and_aliased_reads(tmp_path):
    code = tmp_path / "m.py"
    code.write_text("def f(cfg):\n    s = cfg.SOLVER\n    return s.BASE_LR, cfg.DATA.NUM_FRAMES, 'DATA.SEED'\n")
    keys = {"SOLVER.BASE_LR", "SOLVER.MOMENTUM", "DATA.NUM_FRAMES", "DATA.SEED", "RNG_SEED"}
    assert config_keys_read({"SOLVER", "DATA"}, [code]) & keys == {"SOLVER.BASE_LR", "DATA.NUM_FRAMES"}


def test_pyslowfast_multigrid_configs_load_and_the_group_is_reported_ignored(tmp_path, caplog):
    path = tmp_path / "multigrid.yaml"
    path.write_text("MULTIGRID:\n  LONG_CYCLE: True\n  SHORT_CYCLE: True\n  EPOCH_FACTOR: 2.0\nMODEL:\n  ARCH: x3d\n")
    with caplog.at_level(logging.INFO):
        cfg = load_config([str(path)])
    assert cfg.MULTIGRID.LONG_CYCLE is True
    assert "MULTIGRID.LONG_CYCLE" in caplog.text and "ignores" in caplog.text
