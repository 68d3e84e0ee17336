"""Fully connected GAN (Goodfellow et al. 2014) for 2-D points and flattened images.

Defaults are the small ReLU MLP used for the mixture-of-Gaussians benchmarks
(two hidden layers of 128 units, Adam 1e-3, beta1 0.5): a vanilla GAN that
collapses some modes, which is exactly what those suites are there to show.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.data.base import Dataset
from ganbench.registry import MODELS
from ganbench.training.gan import GAN


def _mlp(
    inputs: int, hidden: int, depth: int, outputs: int, activation: nn.Module
) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), activation]
        width = hidden
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(
        self, latent_dim: int, hidden: int, depth: int, sample_shape: tuple[int, ...], bounded: bool
    ) -> None:
        super().__init__()
        self.sample_shape = sample_shape
        self.net = _mlp(latent_dim, hidden, depth, math.prod(sample_shape), nn.ReLU())
        # Images live in [-1, 1]; points are unbounded.
        self.out = nn.Tanh() if bounded else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(z)).view(-1, *self.sample_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, hidden: int, depth: int, sample_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net = _mlp(math.prod(sample_shape), hidden, depth, 1, nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


@MODELS.register("mlp-gan")
def mlp_gan(
    data: Dataset,
    *,
    latent_dim: int = 16,
    hidden: int = 128,
    depth: int = 2,
    lr: float = 1e-3,
    beta1: float = 0.5,
) -> GAN:
    """MLP generator and discriminator, non-saturating loss, Adam."""
    return GAN(
        generator=MLPGenerator(latent_dim, hidden, depth, data.sample_shape, data.bounded),
        discriminator=MLPDiscriminator(hidden, depth, data.sample_shape),
        latent_dim=latent_dim,
        lr_g=lr,
        lr_d=lr,
        betas=(beta1, 0.999),
    )
