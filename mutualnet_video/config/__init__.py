"""The config tree (PySlowFast keys + MUTUALNET + EXPORT) and its loading."""
from .defaults import IGNORED_KEYS, get_cfg
from .subnet import SubnetConfig
from .loader import ConfigError, cfg_from_text, load_config, load_config_from_args, parse_args

__all__ = ["IGNORED_KEYS", "ConfigError", "cfg_from_text", "get_cfg", "load_config", "load_config_from_args", "parse_args", "SubnetConfig"]
