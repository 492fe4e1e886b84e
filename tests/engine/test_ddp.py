"""Two real gloo processes: DDP training with mutual_step keeps the ranks identical and equals the
average of the per-rank gradients (one all-reduce per optimizer step)."""
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mutualnet_video.data.derive import derive_input
from mutualnet_video.engine import ConfigSampler, distillation_loss, label_loss, mutual_step
from mutualnet_video.models import build_model
from mutualnet_video.slim import width
from mutualnet_video.utils import distributed as du

from .conftest import tiny_cfg

STEPS, LR = 3, 0.1


def rank_batch(rank):
    g = torch.Generator().manual_seed(100 + rank)
    return torch.randn(2, 3, 4, 32, 32, generator=g), torch.randint(0, 10, (2,), generator=g)


def fresh_model():
    torch.manual_seed(0)
    return build_model(tiny_cfg()).train()


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", world_size=2, rank=rank)
    try:
        model = du.wrap_ddp(fresh_model(), torch.device("cpu"))
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
        sampler, (x, y) = ConfigSampler(tiny_cfg()), rank_batch(rank)
        record = {"configs": [], "params": []}
        for step in range(STEPS):
            configs = sampler.sample(step)
            result = mutual_step(model, x, y, configs, optimizer, label_loss("cross_entropy"))
            record["configs"].append([str(c) for c in configs])
            record["losses"] = result.losses
            record["params"].append([p.detach().clone() for p in du.unwrap(model).parameters()])
        torch.save(record, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def local_gradients(model, x, y, configs):
    """The gradient one rank accumulates over ``configs`` on its own batch (no communication)."""
    model.zero_grad()
    full = model(x)
    F_loss = label_loss("cross_entropy")(full, y)
    F_loss.backward()
    target = torch.softmax(full.detach(), -1)
    for sub in configs[1:]:
        with width(model, sub.width):
            distillation_loss(model(derive_input(x, sub)), target).backward()
    return [p.grad.clone() for p in model.parameters()]


def test_two_gloo_ranks_stay_identical_and_average_gradients(tmp_path):
    mp.spawn(_worker, args=(du.free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert r0["configs"] == r1["configs"]  # both ranks drew the same configs at every step
    assert r0["configs"][0] != r0["configs"][1]
    assert r0["losses"] == r1["losses"]  # averaged over ranks
    for step in range(STEPS):
        for a, b in zip(r0["params"][step], r1["params"][step]):
            assert torch.equal(a, b)
    # step 1 equals a single process applying the mean of the two ranks' gradients
    model = fresh_model()
    configs = ConfigSampler(tiny_cfg()).sample(0)
    grads = [local_gradients(model, *rank_batch(r), configs) for r in range(2)]
    expected = [p.detach() - LR * (g0 + g1) / 2 for p, g0, g1 in zip(model.parameters(), *grads)]
    for got, want in zip(r0["params"][0], expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    changed = [not torch.equal(a, b.detach()) for a, b in zip(r0["params"][-1], model.parameters())]
    assert sum(changed) > 0.9 * len(changed)  # training moved (almost) every tensor
