"""mutual_step: the configs trained, the losses, the detached target, one optimizer step, NaN guard."""
import pytest
import torch
import torch.nn.functional as F

from mutualnet_video.config import SubnetConfig
from mutualnet_video.data.derive import derive_input
from mutualnet_video.engine import ConfigSampler, NonFiniteLossError, distillation_loss, label_loss, mutual_step
from mutualnet_video.models import build_model
from mutualnet_video.slim import get_width, width

from .conftest import tiny_cfg

CONFIGS = [SubnetConfig(1.0, 32, 4), SubnetConfig(0.75, 24, 2), SubnetConfig(0.5, 16, 4)]
CE = label_loss("cross_entropy")


class RecordingSGD(torch.optim.SGD):
    """SGD that counts its steps and keeps a copy of the gradients it stepped with."""

    def __init__(self, params, lr=0.0):
        super().__init__(params, lr=lr)
        self.steps, self.grads = 0, None

    def step(self, closure=None):
        self.steps += 1
        self.grads = [p.grad.clone() for g in self.param_groups for p in g["params"]]
        return super().step(closure)


@pytest.fixture
def model(cfg):
    torch.manual_seed(0)
    return build_model(cfg).train()


def test_losses_and_accumulated_gradients_match_the_paper(model, batch):
    """CE(full) + sum KL(sub || softmax(full).detach()), accumulated, then ONE optimizer step."""
    x, y = batch
    losses = [F.cross_entropy(model(x), y)]
    target = torch.softmax(model(x).detach(), -1)
    for sub in CONFIGS[1:]:
        with width(model, sub.width):
            losses.append(distillation_loss(model(derive_input(x, sub)), target))
    model.zero_grad()
    sum(losses).backward()
    expected = [p.grad.clone() for p in model.parameters()]

    optimizer = RecordingSGD(model.parameters())
    result = mutual_step(model, x, y, CONFIGS, optimizer, CE)
    assert optimizer.steps == 1
    assert result.configs == CONFIGS
    assert result.losses == pytest.approx([v.item() for v in losses], rel=1e-4)
    assert result.loss == pytest.approx(sum(result.losses))
    assert result.logits.shape == (4, 10) and not result.logits.requires_grad
    for got, want in zip(optimizer.grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    assert get_width(model) == 1.0


def test_distillation_target_is_detached(model, batch):
    """The full config's logits receive one gradient, the label loss's, none from the KL terms."""
    x, y = batch
    seen = []

    def hook(module, inputs, logits):
        if get_width(model) == 1.0:
            logits.register_hook(lambda g: seen.append((logits.detach(), g)))

    model.register_forward_hook(hook)
    mutual_step(model, x, y, CONFIGS, RecordingSGD(model.parameters()), CE, distill_weight=5.0)
    assert len(seen) == 1
    logits, grad = seen[0]
    torch.testing.assert_close(grad, (torch.softmax(logits, -1) - F.one_hot(y, 10)) / len(y))


def test_distill_weight_scales_the_sub_network_losses(model, batch):
    x, y = batch
    state = {k: v.clone() for k, v in model.state_dict().items()}
    one = mutual_step(model, x, y, CONFIGS, RecordingSGD(model.parameters()), CE).losses
    model.load_state_dict(state)
    three = mutual_step(model, x, y, CONFIGS, RecordingSGD(model.parameters()), CE, distill_weight=3.0).losses
    assert three[0] == pytest.approx(one[0], rel=1e-5)
    assert three[1:] == pytest.approx([3 * v for v in one[1:]], rel=1e-4)


def test_without_inplace_distillation_every_config_learns_from_the_labels(model, batch):
    """The ablation: CE(sub, labels) for every config instead of KL to the full prediction."""
    x, y = batch
    losses = [F.cross_entropy(model(x), y)]
    for sub in CONFIGS[1:]:
        with width(model, sub.width):
            losses.append(2.0 * F.cross_entropy(model(derive_input(x, sub)), y))
    model.zero_grad()
    sum(losses).backward()
    expected = [p.grad.clone() for p in model.parameters()]

    optimizer = RecordingSGD(model.parameters())
    result = mutual_step(model, x, y, CONFIGS, optimizer, CE, distill_weight=2.0, inplace_distill=False)
    assert result.losses == pytest.approx([v.item() for v in losses], rel=1e-4)
    distilled = mutual_step(model, x, y, CONFIGS, RecordingSGD(model.parameters()), CE).losses
    assert all(abs(a - b) > 1e-3 for a, b in zip(result.losses[1:], distilled[1:]))
    for got, want in zip(optimizer.grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_running_statistics_follow_the_full_config(batch):
    """Sub-networks leave BN running statistics where the full config alone puts them."""
    x, y = batch
    models = []
    for configs in (CONFIGS[:1], CONFIGS):
        torch.manual_seed(0)
        model = build_model(tiny_cfg()).train()
        mutual_step(model, x, y, configs, RecordingSGD(model.parameters()), CE)
        models.append(model)
    for (name, a), (_, b) in zip(*(m.named_buffers() for m in models)):
        if name.endswith(("running_mean", "running_var")):
            torch.testing.assert_close(a, b)
    assert all(m.momentum == 0.1 for m in models[1].modules() if isinstance(m, torch.nn.BatchNorm3d))


def test_sampled_configs_train(model, batch, cfg):
    x, y = batch
    configs = ConfigSampler(cfg).sample(0)
    result = mutual_step(model, x, y, configs, RecordingSGD(model.parameters(), lr=0.01), CE)
    assert len(result.losses) == 4 and all(v >= 0 for v in result.losses)


def test_non_finite_loss_stops_before_the_optimizer_step(model, batch):
    x, y = batch

    def poison(module, inputs, logits):
        if get_width(model) == 0.75:
            return logits * float("nan")

    model.register_forward_hook(poison)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) for sub-network w0\.75-c24-t2") as e:
        mutual_step(model, x, y, CONFIGS, optimizer, CE)
    assert e.value.config == CONFIGS[1]
    assert optimizer.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_grad_scaler_runs_the_forwards_under_autocast_on_the_batch_device(model, batch):
    """Mixed precision follows the batch's device: on a CPU, bfloat16 autocast with a CPU GradScaler
    (the same code path as float16 on CUDA). The step still trains every config and steps once."""
    x, y = batch
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    dtypes = []
    conv.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    result = mutual_step(model, x, y, CONFIGS, optimizer, CE, scaler=torch.amp.GradScaler("cpu"))
    assert dtypes == [torch.bfloat16] * len(CONFIGS)
    assert optimizer.steps == 1 and all(torch.isfinite(torch.tensor(result.losses)))
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    dtypes.clear()
    mutual_step(model, x, y, CONFIGS, RecordingSGD(model.parameters()), CE)
    assert dtypes == [torch.float32] * len(CONFIGS)
