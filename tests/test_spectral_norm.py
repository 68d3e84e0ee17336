"""Spectral normalisation (Miyato et al. 2018) against the singular values torch.linalg
computes, for plain, convolutional and stacked (ensemble) weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.baselines.stacked_layers import StackedLinear
from ganbench.data.mog import ring_8
from ganbench.training import ensemble, spectral_norm
from ganbench.training.build import build_model
from ganbench.training.loop import train
from tests.helpers import assert_same_weights

CPU = torch.device("cpu")


def _largest_singular_values(matrices: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(matrices.detach(), ord=2)


def _iterate(layer: nn.Module, inputs: torch.Tensor, steps: int = 100) -> None:
    """Power iteration runs once per training-mode forward pass."""
    for _ in range(steps):
        layer(inputs)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Linear(12, 7), (4, 12)),
        (lambda: nn.Conv2d(3, 5, 3), (2, 3, 8, 8)),
    ],
)
def test_a_normalised_weight_has_largest_singular_value_one(make, shape):
    """Closed form: W / sigma_max(W) has sigma_max 1. The weight is scaled by 40 first so
    that an unnormalised weight would fail by far; tolerance 1e-4 after 100 iterations
    (the power iteration converges geometrically in sigma_2 / sigma_1). The layer and its
    inputs are made from a fixed seed here, not at collection, where the random state
    depended on the modules collected before (a fresh clone drew a slower-converging
    weight)."""
    torch.manual_seed(0)
    layer, inputs = make(), torch.randn(shape)
    with torch.no_grad():
        layer.weight.mul_(40)
    raw = _largest_singular_values(layer.weight.flatten(1))
    assert spectral_norm.apply(layer) == 1
    _iterate(layer, inputs)
    normalised = _largest_singular_values(layer.weight.flatten(1))
    assert raw > 10
    assert normalised == pytest.approx(1.0, abs=1e-4)


def test_each_stacked_member_is_normalised_by_its_own_sigma():
    """Members scaled by 1, 5 and 0.1 each end with sigma_max 1: one shared sigma would
    leave them at 0.2, 1 and 0.02."""
    torch.manual_seed(0)
    layer = StackedLinear(9, 6)
    with torch.no_grad():
        layer.weight.data = torch.cat(
            [layer.weight * scale for scale in (1.0, 5.0, 0.1)]
        ).contiguous()
    spectral_norm.apply(layer)
    _iterate(layer, torch.randn(3, 4, 9))
    sigmas = _largest_singular_values(layer.weight)  # (members, in, out): sigma of each
    torch.testing.assert_close(sigmas, torch.ones(3), atol=1e-4, rtol=0)


def test_eval_mode_keeps_the_estimate_and_gradients_pass_through_two_forwards():
    """Eval mode uses u and v without updating them (samples are deterministic); in
    training, a discriminator called on real and fake before one backward still gets
    gradients (u and v change in place between the two calls)."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 3)
    spectral_norm.apply(layer)
    layer(torch.randn(2, 5))
    u = layer.parametrizations.weight[0].u.clone()
    layer.eval()
    layer(torch.randn(2, 5))
    assert torch.equal(u, layer.parametrizations.weight[0].u)
    layer.train()
    loss = layer(torch.randn(2, 5)).sum() + layer(torch.randn(2, 5)).sum()
    loss.backward()
    assert layer.parametrizations.weight.original.grad.abs().sum() > 0


@pytest.mark.e2e  # trains a run: the full tier
def test_suite_switch_normalises_the_discriminator_only_and_ensembles_stay_per_seed():
    """`spectral_norm = true` puts the parametrization on every discriminator layer and
    none of the generator's; three seeds stacked train as three single runs (tolerance
    1e-5, as tests/test_protocols.py's ensemble test)."""
    data = ring_8()
    params = {"hidden": 8, "spectral_norm": True}

    def build(seed: int):
        torch.manual_seed(seed)
        return build_model("mlp-gan", data, params)

    gan = build(0)
    d_layers = [m for m in gan.discriminator.modules() if isinstance(m, StackedLinear)]
    assert d_layers and all(hasattr(m, "parametrizations") for m in d_layers)
    assert not any(hasattr(m, "parametrizations") for m in gan.generator.modules())

    singles = []
    for seed in (1, 2):
        single = build(seed)
        train(single, data, steps=10, batch_size=8, device=CPU, seed=seed, log_points=10)
        singles.append(single)
    stacked = ensemble.stack([build(1), build(2)])
    train(stacked, data, steps=10, batch_size=8, device=CPU, seed=[1, 2], log_points=10)
    for index, single in enumerate(singles):
        assert_same_weights(ensemble.member(stacked, index).discriminator, single.discriminator)


def test_a_dcgan_with_spectral_norm_trains_in_channels_last():
    """Conv weights (out, in, k, k) are normalised over their flattened inputs, as the
    paper does, and training runs in the loop's default channels_last layout."""
    import math

    from ganbench.data.images import ImageDataset, Split
    from ganbench.options import TrainingOptions

    split = Split(torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8), torch.zeros(16))
    data = ImageDataset("digits", split, split, "test")
    torch.manual_seed(0)
    gan = build_model("dcgan", data, {"width": 8, "spectral_norm": True})
    convs = [m for m in gan.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    record = train(
        gan,
        data,
        steps=3,
        batch_size=4,
        device=CPU,
        seed=0,
        log_points=3,
        options=TrainingOptions(channels_last=True),
    )
    assert all(math.isfinite(v) for v in record.loss_d)
    for conv in convs:
        sigma = _largest_singular_values(conv.weight.flatten(1))
        # u^T W v never exceeds sigma_max, so W / estimate has sigma >= 1; 3 iterations
        # from a random start bring it near 1 (unnormalised, DCGAN's N(0, 0.02) weights
        # have sigma well below 1)
        assert 1 - 1e-5 <= float(sigma) < 1.5
