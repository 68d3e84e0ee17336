"""Fully connected GAN (Goodfellow et al. 2014) for 2-D points and flattened images.

Defaults are the small ReLU MLP used for the mixture-of-Gaussians benchmarks
(two hidden layers of 128 units, Adam 1e-3, beta1 0.5): a vanilla GAN that
collapses some modes, which is exactly what those suites are there to show.

The other parameters, with the training procedure every model takes (loss,
updates, ...: ganbench.options.PROCEDURE), are the protocols of published MoG
experiments, each one line in a suite (see suites/pacgan-mog and suites/veegan-mog):
- PacGAN (Lin et al. 2018, code fjxmlzn/PacGAN): G 4x400 ReLU with batch norm
  and no bias, D 3x200 maxout with 5 pieces, N(0, 0.02) init, Adam(1e-4, 0.8),
  `packing` m (the discriminator judges m samples concatenated), simultaneous
  updates (ALI's algorithm: both gradients from one forward pass).
- VEEGAN (Srivastava et al. 2017): G 2x128 ReLU, D 1x128 ReLU, Xavier init.

The layers carry a member dimension (baselines/stacked_layers.py), so several
seeds train as one batched computation when a suite sets `[training] ensemble`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ganbench.baselines.stacked_layers import (
    INITS,
    StackedBatchNorm,
    StackedLinear,
    StackedMaxout,
    with_member_dim,
)
from ganbench.data.base import Dataset
from ganbench.registry import MODELS
from ganbench.training.gan import GAN

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


class MLPGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        widths: Sequence[int],
        sample_shape: tuple[int, ...],
        bounded: bool,
        *,
        activation: str = "relu",
        batchnorm: BatchNorm | None = None,
        bias: bool = True,
        init: str = "default",
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.sample_shape = sample_shape
        layers: list[nn.Module] = []
        width = latent_dim
        for index, hidden in enumerate(widths):
            layers.append(StackedLinear(width, hidden, bias=bias, init=init))
            if batchnorm and (index > 0 or batchnorm.first):
                layers.append(StackedBatchNorm(hidden, eps=batchnorm.eps))
                layers[-1].groups = groups
            layers.append(ACTIVATIONS[activation]())
            width = hidden
        # The output layer keeps its bias (PacGAN's code turns it back on).
        layers.append(StackedLinear(width, math.prod(sample_shape), init=init))
        # Images live in [-1, 1]; points are unbounded.
        layers.append(nn.Tanh() if bounded else nn.Identity())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z, single = with_member_dim(z, 1)
        x = self.net(z).view(z.shape[0], z.shape[1], *self.sample_shape)
        return x.squeeze(0) if single else x


class MLPDiscriminator(nn.Module):
    """Judges `packing` samples at once: rows are `packing` consecutive blocks of one
    batch each (as the training loop draws them), and packed example j concatenates
    row j of every block, as PacGAN concatenates its m generator calls."""

    def __init__(
        self,
        widths: Sequence[int],
        sample_shape: tuple[int, ...],
        *,
        packing: int = 1,
        activation: str = "leaky_relu",
        maxout_pieces: int = 0,
        init: str = "default",
    ) -> None:
        super().__init__()
        self.sample_shape, self.packing = sample_shape, packing
        layers: list[nn.Module] = []
        width = math.prod(sample_shape) * packing
        for hidden in widths:
            if maxout_pieces:
                layers.append(StackedMaxout(width, hidden, maxout_pieces, init=init))
            else:
                layers += [StackedLinear(width, hidden, init=init), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(StackedLinear(width, 1, init=init))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, single = with_member_dim(x, len(self.sample_shape))
        members, n = x.shape[:2]
        packed = (
            x.reshape(members, self.packing, n // self.packing, -1)
            .transpose(1, 2)
            .reshape(members, n // self.packing, -1)
        )
        logits = self.net(packed).squeeze(-1)
        return logits.squeeze(0) if single else logits


@dataclass(frozen=True)
class BatchNorm:
    """The generator's batch normalisation: `first` normalises the first hidden layer too."""

    first: bool = True
    eps: float = 1e-4


@MODELS.register(
    "mlp-gan",
    ensemble=True,
    choices={
        "init": INITS,
        "d_activation": tuple(ACTIVATIONS),
        "g_activation": tuple(ACTIVATIONS),
    },
)
def mlp_gan(
    data: Dataset,
    *,
    latent_dim: int = 16,
    hidden: int = 128,
    depth: int = 2,
    d_hidden: int = 0,
    d_depth: int = 0,
    g_widths: tuple[int, ...] = (),
    d_widths: tuple[int, ...] = (),
    lr: float = 1e-3,
    beta1: float = 0.5,
    g_activation: str = "relu",
    g_batchnorm: bool = False,
    g_batchnorm_first: bool = True,
    g_batchnorm_eps: float = 1e-4,
    g_bias: bool = True,
    d_activation: str = "leaky_relu",
    maxout_pieces: int = 0,
    init: str = "default",
    packing: int = 1,
) -> GAN:
    """MLP generator and discriminator, Adam; options for the PacGAN and VEEGAN protocols.

    Hidden layers: `g_widths`/`d_widths` when given, else `depth` x `hidden` (`d_hidden`/
    `d_depth` 0 reuse those); `maxout_pieces` 0 uses `d_activation`. The training
    procedure (loss, updates, ...) is set on any model, see PROCEDURE.
    """
    generator = MLPGenerator(
        latent_dim,
        tuple(g_widths) or (hidden,) * depth,
        data.sample_shape,
        data.bounded,
        activation=g_activation,
        batchnorm=BatchNorm(g_batchnorm_first, g_batchnorm_eps) if g_batchnorm else None,
        bias=g_bias,
        init=init,
        groups=packing,
    )
    discriminator = MLPDiscriminator(
        tuple(d_widths) or (d_hidden or hidden,) * (d_depth or depth),
        data.sample_shape,
        packing=packing,
        activation=d_activation,
        maxout_pieces=maxout_pieces,
        init=init,
    )
    return GAN(
        generator=generator,
        discriminator=discriminator,
        latent_dim=latent_dim,
        lr_g=lr,
        lr_d=lr,
        betas=(beta1, 0.999),
        packing=packing,
    )
