"""Loading YAML files and ``--opts`` into the config tree, with errors that name the key and file."""
import argparse
import ast
import logging
import os
import re
from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

from fvcore.common.config import CfgNode

from .defaults import CHOICES, IGNORED_KEYS, get_cfg

logger = logging.getLogger(__name__)
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Za-z0-9_]+)+$|^[A-Z][A-Z0-9_]*$")


class ConfigError(ValueError):
    """A config file or override is wrong: the message names the key and where it came from."""


def _coerce(value: Any, default: Any, key: str, source: str) -> Any:
    """Return ``value`` converted to the type of ``default`` where that is lossless, else raise."""
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
    if default is None or value is None or type(value) is type(default):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
        return type(default)(value)
    raise ConfigError(
        f"{source}: config key {key} expects {type(default).__name__} "
        f"(default {default!r}), got {type(value).__name__} {value!r}"
    )


def _merge_checked(cfg: CfgNode, update: dict, source: str, prefix: str = "") -> List[str]:
    """Merge a nested dict into ``cfg`` in place; return the dotted keys that were set."""
    set_keys = []
    for name, value in update.items():
        key = prefix + name
        if name not in cfg:
            raise ConfigError(f"{source}: unknown config key {key}")
        if isinstance(cfg[name], CfgNode):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: config key {key} is a group, got {value!r}")
            set_keys += _merge_checked(cfg[name], value, source, key + ".")
        else:
            cfg[name] = _coerce(value, cfg[name], key, source)
            set_keys.append(key)
    return set_keys


def _warn_ignored(set_keys: Iterable[str], source: str) -> None:
    ignored = [k for k in set_keys if any(k == i or k.startswith(i + ".") for i in IGNORED_KEYS)]
    if ignored:
        logger.info("%s sets keys this toolkit accepts but ignores: %s", source, ", ".join(ignored))


def merge_file(cfg: CfgNode, path: str) -> None:
    """Merge one YAML file (``_BASE_`` supported) into ``cfg`` with key and type checks."""
    try:
        loaded = CfgNode.load_yaml_with_base(path, allow_unsafe=False)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except Exception as e:  # yaml syntax errors and the like
        raise ConfigError(f"{path}: cannot parse YAML: {e}") from e
    _warn_ignored(_merge_checked(cfg, loaded or {}, path), path)


def merge_opts(cfg: CfgNode, opts: Sequence[str]) -> None:
    """Merge ``KEY VALUE`` pairs (as given after ``--opts``) into ``cfg``."""
    if len(opts) % 2:
        raise ConfigError(f"--opts: expected KEY VALUE pairs, got an odd number of items: {list(opts)}")
    for key, value in zip(opts[0::2], opts[1::2]):
        *groups, leaf = key.split(".")
        node = cfg
        for depth, g in enumerate(groups):
            if g not in node or not isinstance(node[g], CfgNode):
                raise ConfigError(f"--opts: unknown config key {'.'.join(groups[:depth + 1])} (in {key})")
            node = node[g]
        nested = {leaf: value}
        for g in reversed(groups):
            nested = {g: nested}
        _warn_ignored(_merge_checked(cfg, nested, "--opts"), "--opts")


def check_cfg(cfg: CfgNode) -> CfgNode:
    """Validate cross-key constraints and apply PySlowFast's derived settings."""
    lo, hi = cfg.MUTUALNET.WIDTH_RANGE
    if not 0.0 < lo <= hi <= 1.0:
        raise ConfigError(f"MUTUALNET.WIDTH_RANGE must satisfy 0 < min <= max <= 1, got {[lo, hi]}")
    if cfg.MUTUALNET.EVAL_GRID.BN_BATCHES < 0:
        raise ConfigError("MUTUALNET.EVAL_GRID.BN_BATCHES must be >= 0 (0: BN.NUM_BATCHES_PRECISE), "
                          f"got {cfg.MUTUALNET.EVAL_GRID.BN_BATCHES}")
    if cfg.SHARD_ID >= cfg.NUM_SHARDS:
        raise ConfigError(f"SHARD_ID ({cfg.SHARD_ID}) must be < NUM_SHARDS ({cfg.NUM_SHARDS})")
    for key, choices in CHOICES.items():
        group, leaf = key.split(".")
        if cfg[group][leaf] not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {cfg[group][leaf]!r}")
    if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS:
        cfg.SOLVER.BASE_LR *= cfg.NUM_SHARDS
        cfg.SOLVER.WARMUP_START_LR *= cfg.NUM_SHARDS
        cfg.SOLVER.COSINE_END_LR *= cfg.NUM_SHARDS
        cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False  # applied once, even if the cfg is reloaded
    return cfg


def cfg_from_text(text: str, source: str = "checkpoint") -> CfgNode:
    """The config dumped as YAML text into a checkpoint or bundle (``cfg.dump()``), validated."""
    import yaml

    cfg = get_cfg()
    _merge_checked(cfg, yaml.safe_load(text) or {}, source)
    return check_cfg(cfg)


def load_config(cfg_files: Union[str, os.PathLike, Sequence[str]] = (), opts: Sequence[str] = ()) -> CfgNode:
    """Defaults, then each YAML file in order (one path or several), then ``KEY VALUE`` overrides;
    validated."""
    if isinstance(cfg_files, (str, os.PathLike)):
        cfg_files = [cfg_files]
    cfg = get_cfg()
    for path in cfg_files:
        merge_file(cfg, path)
    merge_opts(cfg, opts)
    return check_cfg(cfg)


def parse_args(argv: Optional[Sequence[str]] = None, description: str = "",
               add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> argparse.Namespace:
    """PySlowFast's command line: ``--cfg FILE [FILE ...] [--opts] KEY VALUE ...``.

    Bare trailing ``KEY VALUE`` pairs are accepted as overrides too, as PySlowFast's docs show them.
    ``add_arguments(parser)`` lets a tool add its own flags.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--cfg", dest="cfg_files", nargs="+", default=[], help="YAML config file(s)")
    parser.add_argument("--init_method", default=None,
                        help="tcp://HOST:PORT of shard 0, for NUM_SHARDS > 1 without torchrun (PySlowFast style)")
    parser.add_argument("--shard_id", type=int, default=None, help="overrides SHARD_ID")
    parser.add_argument("--num_shards", type=int, default=None, help="overrides NUM_SHARDS")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides")
    args, rest = parser.parse_known_args(argv)
    # `--cfg a.yaml KEY VALUE`: nargs="+" swallows the pairs; a config key is never a file name.
    split = next((i for i, f in enumerate(args.cfg_files) if _KEY_RE.match(f)), len(args.cfg_files))
    args.cfg_files, rest = args.cfg_files[:split], args.cfg_files[split:] + rest
    bad = [r for r in rest if r.startswith("--")]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)}")
    args.opts = list(rest) + list(args.opts or [])
    if args.shard_id is not None:
        args.opts += ["SHARD_ID", str(args.shard_id)]
    if args.num_shards is not None:
        args.opts += ["NUM_SHARDS", str(args.num_shards)]
    return args


def load_config_from_args(args: argparse.Namespace) -> CfgNode:
    return load_config(args.cfg_files, args.opts)
