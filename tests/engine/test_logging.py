"""Run logging: PySlowFast's json stats lines, the log files, TensorBoard as an option."""
import importlib.util
import json
import logging
import math

from mutualnet_video.config import get_cfg
from mutualnet_video.utils.logging import StatsLog, format_json_stats, setup_logging


def test_json_stats_line_is_pyslowfast_format():
    line = format_json_stats({"_type": "train_iter", "epoch": "1/10", "iter": "5/20", "loss": 1 / 3,
                              "config_losses": [0.123456789, math.inf], "lr": 0.1, "nested": {"x": 2.0}})
    assert line.startswith("json_stats: {")
    record = json.loads(line[len("json_stats: "):])
    assert list(record) == sorted(record)
    assert record["loss"] == 0.33333 and record["config_losses"] == [0.12346, "inf"]
    assert record["epoch"] == "1/10" and record["nested"] == {"x": 2.0}


def test_stats_log_writes_json_stats_log_and_stdout_log(tmp_path, caplog):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    setup_logging(cfg.OUTPUT_DIR)
    try:
        log = StatsLog(cfg)
        log.write({"_type": "train_epoch", "epoch": "1/2", "loss": 2.0}, step=3)
        log.write({"_type": "val_epoch", "epoch": "1/2", "top1_err": 50.0}, step=3)
        log.close()
        lines = (tmp_path / "json_stats.log").read_text().splitlines()
        assert [json.loads(x[12:])["_type"] for x in lines] == ["train_epoch", "val_epoch"]
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert lines[0] in (tmp_path / "stdout.log").read_text()
    finally:
        setup_logging(None)


def test_tensorboard_is_optional(tmp_path, caplog):
    cfg = get_cfg()
    cfg.OUTPUT_DIR, cfg.TENSORBOARD.ENABLE = str(tmp_path), True
    with caplog.at_level(logging.WARNING):
        log = StatsLog(cfg)
        log.write({"_type": "train_epoch", "loss": 1.0}, step=1)
        log.close()
    if importlib.util.find_spec("tensorboard") is None:
        assert "tensorboard is not installed" in caplog.text and log.tensorboard is None
    else:
        assert any(p.name.startswith("events.out") for p in (tmp_path / "runs").iterdir())
