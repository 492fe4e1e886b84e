"""Multi-view aggregation, distributed gathering, and the resumable grid evaluation."""
import os

import pytest
import simplejson
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mutualnet_video.budget import calibrate as calibrate_module
from mutualnet_video.config import SubnetConfig
from mutualnet_video.engine import grid as grid_module
from mutualnet_video.budget import SubnetSpace
from mutualnet_video.engine.grid import evaluate_grid
from mutualnet_video.engine.multiview import aggregate_views, multiview_test, video_topk
from mutualnet_video.models import build_model
from mutualnet_video.utils.distributed import free_port

from .model_cfgs import x3d_cfg

SCORES = torch.tensor([[0.1, 0.9], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
VIDEOS = torch.tensor([0, 0, 1, 1, 2])


def test_aggregate_views_by_hand():
    summed, views = aggregate_views(SCORES, VIDEOS, num_videos=4, method="sum")
    torch.testing.assert_close(summed, torch.tensor([[0.7, 1.3], [0.9, 1.1], [0.5, 0.5], [0.0, 0.0]]))
    assert views.tolist() == [2, 2, 1, 0]
    maxed, _ = aggregate_views(SCORES, VIDEOS, num_videos=4, method="max")
    torch.testing.assert_close(maxed, torch.tensor([[0.6, 0.9], [0.7, 0.8], [0.5, 0.5], [0.0, 0.0]]))
    with pytest.raises(KeyError):
        aggregate_views(SCORES, VIDEOS, 4, method="mean")


def test_video_topk_counts_only_seen_videos():
    summed, views = aggregate_views(SCORES, VIDEOS, num_videos=4)
    labels = torch.tensor([1, 0, 0, 1])
    acc = video_topk(summed, labels, views, ks=(1, 2))
    # video 0 -> class 1 (right), video 1 -> class 1 (wrong), video 2 tie -> class 0 (right); video 3 unseen
    assert acc["num_videos"] == 3
    assert acc["top1"] == pytest.approx(200 / 3)
    assert acc["top2"] == pytest.approx(100.0)


def _loader(rows):
    """Batches of (inputs = the scores themselves, labels, index, meta)."""
    return [(SCORES[i : i + 1].log(), torch.tensor([lab]), torch.tensor([i]), {"video_index": VIDEOS[i : i + 1]})
            for i, lab in rows]


LABELS = [1, 1, 0, 0, 1]


def _gather_worker(rank, port, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    mine = [(i, LABELS[i]) for i in range(5) if i % 2 == rank]  # uneven shards: 3 and 2 views
    result = multiview_test(torch.nn.Identity(), _loader(mine), 3, torch.device("cpu"), forward=lambda m, x: x)
    torch.save({k: result[k] for k in ("top1", "num_videos", "video_scores")}, os.path.join(out_dir, f"{rank}.pt"))
    dist.destroy_process_group()


def test_multiview_gathers_views_from_two_gloo_processes(tmp_path):
    single = multiview_test(torch.nn.Identity(), _loader(list(enumerate(LABELS))), 3, torch.device("cpu"),
                            forward=lambda m, x: x)
    mp.spawn(_gather_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        got = torch.load(tmp_path / f"{rank}.pt", weights_only=True)
        assert got["num_videos"] == single["num_videos"] == 3
        assert got["top1"] == pytest.approx(single["top1"])
        torch.testing.assert_close(got["video_scores"], single["video_scores"])


def test_multiview_amp_autocasts_on_the_batch_device():
    """Mixed precision follows the device the views run on (it was hard-coded to CUDA)."""
    seen = []

    def forward(model, x):
        seen.append(torch.is_autocast_enabled(x.device.type))
        return x

    for amp in (True, False):
        multiview_test(torch.nn.Identity(), _loader(list(enumerate(LABELS))), 3, torch.device("cpu"), amp=amp,
                       forward=forward)
    assert seen == [True] * len(LABELS) + [False] * len(LABELS)


def test_default_grid_spans_the_training_ranges():
    cfg = x3d_cfg("XS", frames=8, crop=64)
    cfg.MUTUALNET.WIDTH_RANGE, cfg.MUTUALNET.CROP_SIZES, cfg.MUTUALNET.NUM_FRAMES_LIST = [0.5, 1.0], [64, 48], [8, 4]
    grid = SubnetSpace(cfg).eval_grid()
    assert len(grid) == 4 * 2 * 2 and grid[0] == SubnetConfig(1.0, 64, 8) and grid[-1] == SubnetConfig(0.5, 48, 4)
    cfg.MUTUALNET.EVAL_GRID.WIDTHS = [0.5, 1.0]
    assert len(SubnetSpace(cfg).eval_grid()) == 8
    cfg.MUTUALNET.MODE, cfg.MUTUALNET.EVAL_GRID.WIDTHS = "static", []
    assert SubnetSpace(cfg).eval_grid() == [SubnetConfig(1.0, 64, 8)]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from data_prep.make_synthetic import make_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    make_synthetic(out, num_classes=2, train_per_class=3, val_per_class=2, test_per_class=2, frames=16, size=48)
    return str(out)


def _grid_run(tiny_data, tmp_path):
    """A tiny X3D on ``tiny_data`` (3 training batches of 2), its config and a saved checkpoint."""
    cfg = x3d_cfg("XS", frames=4, crop=48, num_classes=2)
    cfg.X3D.WIDTH_FACTOR, cfg.X3D.DEPTH_FACTOR, cfg.X3D.DIM_C5 = 1.0, 1.0, 32
    cfg.MUTUALNET.WIDTH_RANGE = [0.5, 1.0]
    cfg.DATA.PATH_TO_DATA_DIR = cfg.DATA.PATH_PREFIX = tiny_data
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TEST_CROP_SIZE, cfg.DATA.SAMPLING_RATE = [48, 56], 48, 2
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 2, 1
    cfg.TRAIN.BATCH_SIZE = cfg.TEST.BATCH_SIZE = 2
    cfg.DATA_LOADER.NUM_WORKERS, cfg.NUM_GPUS, cfg.BN.NUM_BATCHES_PRECISE = 0, 0, 2
    cfg.OUTPUT_DIR = str(tmp_path)
    model = build_model(cfg)
    ckpt = str(tmp_path / "checkpoints" / "checkpoint_epoch_00001.pyth")
    os.makedirs(os.path.dirname(ckpt))
    torch.save({"epoch": 1, "model_state": model.state_dict()}, ckpt)
    return cfg, model, ckpt


def test_grid_evaluation_writes_curve_files_and_resumes(tiny_data, tmp_path, monkeypatch):
    cfg, model, ckpt = _grid_run(tiny_data, tmp_path)
    first = [SubnetConfig(1.0, 48, 4), SubnetConfig(0.5, 32, 2)]
    rows = evaluate_grid(cfg, model, ckpt, configs=first)
    assert [r["width"] for r in rows] == [1.0, 0.5] and all(r["num_videos"] == 4 and r["views"] == 2 for r in rows)
    for name in ("curve.json", "curve.csv", "query_table.json", "curve.png"):
        assert os.path.getsize(tmp_path / name) > 0
    assert rows[0]["gflops_per_video"] == pytest.approx(2 * rows[0]["gflops"])
    assert set(torch.load(ckpt, weights_only=True)["bn_bank"]["entries"]) == {str(c) for c in first}
    predictions = grid_module.read_predictions(str(tmp_path), ckpt)
    assert len(predictions["labels"]) == 4 and set(predictions["top1"]) == {str(c) for c in first}
    for row, sub in zip(rows, first):  # the saved predictions give the row's top-1
        right = [p == y for p, y in zip(predictions["top1"][str(sub)], predictions["labels"])]
        assert 100.0 * sum(right) / len(right) == pytest.approx(row["top1"])
    assert grid_module.read_predictions(str(tmp_path), "another.pyth")["top1"] == {}

    calls = {"test": 0, "calibrate": 0}
    real_test, real_calibrate = grid_module.multiview_test, calibrate_module.calibrate_bn
    monkeypatch.setattr(grid_module, "multiview_test", lambda *a, **k: calls.__setitem__("test", calls["test"] + 1) or real_test(*a, **k))
    monkeypatch.setattr(calibrate_module, "calibrate_bn", lambda *a, **k: calls.__setitem__("calibrate", calls["calibrate"] + 1) or real_calibrate(*a, **k))
    more = first + [SubnetConfig(0.75, 40, 4)]
    rows = evaluate_grid(cfg, build_model(cfg), ckpt, configs=more)
    assert calls == {"test": 1, "calibrate": 1}  # only the new config
    assert len(simplejson.load(open(tmp_path / "curve.json"))) == 3 and len(rows) == 3
    again = grid_module.read_predictions(str(tmp_path))
    assert set(again["top1"]) == {str(c) for c in more} and again["top1"][str(first[0])] == predictions["top1"][str(first[0])]
    frontier = simplejson.load(open(tmp_path / "query_table.json"))
    assert all(a["gflops"] < b["gflops"] and a["top1"] < b["top1"] for a, b in zip(frontier, frontier[1:]))

    cfg.TEST.NUM_ENSEMBLE_VIEWS = 1  # rows tested with 2 views are stale; the BN statistics are kept
    rows = evaluate_grid(cfg, build_model(cfg), ckpt, configs=more)
    assert calls == {"test": 4, "calibrate": 1} and [r["views"] for r in rows] == [1, 1, 1]
    assert [r["gflops_per_video"] for r in rows] == pytest.approx([r["gflops"] for r in rows])


def test_grid_recalibrates_on_more_batches_than_the_split_holds(tiny_data, tmp_path, monkeypatch):
    """A grid made with fewer BN batches than MUTUALNET.EVAL_GRID.BN_BATCHES is stale: every config is
    calibrated again, drawing the 3-batch training split again to reach 5 batches, and tested again."""
    cfg, model, ckpt = _grid_run(tiny_data, tmp_path)
    configs = [SubnetConfig(1.0, 48, 4), SubnetConfig(0.5, 32, 2)]
    assert [r["bn_batches"] for r in evaluate_grid(cfg, model, ckpt, configs=configs)] == [2, 2]

    drawn, tested = [], []
    real_test, real_calibrate = grid_module.multiview_test, calibrate_module.calibrate_bn

    def counting_calibrate(model, batches, sub, num_batches, forward=None):
        def counted():
            for batch in batches:
                drawn[-1] += 1
                yield batch
        drawn.append(0)
        return real_calibrate(model, counted(), sub, num_batches, forward)

    monkeypatch.setattr(calibrate_module, "calibrate_bn", counting_calibrate)
    monkeypatch.setattr(grid_module, "multiview_test", lambda *a, **k: tested.append(1) or real_test(*a, **k))
    cfg.MUTUALNET.EVAL_GRID.BN_BATCHES = 5
    rows = evaluate_grid(cfg, build_model(cfg), ckpt, configs=configs)
    assert drawn == [5, 5] and len(tested) == 2
    assert [r["bn_batches"] for r in rows] == [5, 5]
    bank = torch.load(ckpt, weights_only=True)["bn_bank"]["entries"]
    assert {k: v["num_batches"] for k, v in bank.items()} == {str(c): 5 for c in configs}
    assert [r["bn_batches"] for r in simplejson.load(open(tmp_path / "curve.json"))] == [5, 5]
