"""extract_subnet: a plain network of the active sizes that computes what the slim model does."""
import pytest
import torch
import torch.nn as nn

from mutualnet_video.config import SubnetConfig
from mutualnet_video.data.derive import derive_input
from mutualnet_video.export import extract_subnet
from mutualnet_video.models import build_model
from mutualnet_video.slim import SlimMixin, active_num_params, width

from .conftest import tiny_cfg


@pytest.mark.parametrize("w", [0.5, 0.73, 1.0])
def test_plain_subnet_equals_the_slim_model_at_that_width(w, batch):
    torch.manual_seed(0)
    model = build_model(tiny_cfg()).eval()
    x = derive_input(batch[0], SubnetConfig(w, 24, 2))
    plain = extract_subnet(model, w)
    assert not any(isinstance(m, SlimMixin) for m in plain.modules())
    assert sum(p.numel() for p in plain.parameters()) == active_num_params(model, w)
    with torch.no_grad(), width(model, w):
        torch.testing.assert_close(plain(x), model(x))
    assert not plain.training


def test_plain_subnet_trains_independently(batch):
    model = build_model(tiny_cfg()).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = extract_subnet(model, 0.5)
    assert plain.training
    nn.functional.cross_entropy(plain(batch[0]), batch[1]).backward()
    torch.optim.SGD(plain.parameters(), lr=1.0).step()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
