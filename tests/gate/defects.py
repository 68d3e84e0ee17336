"""Defects a CI gate must catch, each a one-line slip in a DCGAN's code.

Every factory here is baselines.dcgan.dcgan with one thing broken, and takes the
same parameters (functools.wraps: the suite validates them against dcgan's), so a
suite names it as `name = "defects:no_g_batchnorm"` with `label = "dcgan"` and its
results line up with a healthy baseline's, as a regression in a project's own
model would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from baselines.dcgan import dcgan
from ganbench.training import GAN, Loss
from ganbench.training.losses import discriminator_loss, generator_loss

#: Every how many discriminator steps the label-swap defect swaps real and fake.
SWAP_EVERY = 10


def _defect(transform: Callable[[GAN], None]) -> Callable[..., GAN]:
    @functools.wraps(dcgan)
    def factory(data, **params) -> GAN:
        gan = dcgan(data, **params)
        transform(gan)
        return gan

    factory.__name__ = factory.__qualname__ = transform.__name__
    factory.__doc__ = transform.__doc__
    return factory


def _replace(network: nn.Module, kind: type[nn.Module]) -> None:
    for parent in network.modules():
        for name, child in parent.named_children():
            if isinstance(child, kind):
                setattr(parent, name, nn.Identity())


@_defect
def no_g_batchnorm(gan: GAN) -> None:
    """The generator's batch norm layers removed."""
    _replace(gan.generator, nn.BatchNorm2d)


@_defect
def lr_x10(gan: GAN) -> None:
    """Both learning rates 10x too high (2e-3)."""
    gan.lr_g *= 10
    gan.lr_d *= 10


@_defect
def tanh_to_identity(gan: GAN) -> None:
    """The generator's output tanh replaced by identity."""
    _replace(gan.generator, nn.Tanh)


@_defect
def label_swap(gan: GAN) -> None:
    """The discriminator's real and fake labels swapped on every 10th step (10 %)."""
    calls = 0

    def swapping(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls % SWAP_EVERY == 0:
            return discriminator_loss(fake_logits, real_logits)
        return discriminator_loss(real_logits, fake_logits)

    gan.loss = Loss(swapping, generator_loss)


@_defect
def sigmoid_output(gan: GAN) -> None:
    """The generator's output tanh replaced by a sigmoid (images in [0, 1], not [-1, 1])."""
    net = gan.generator.net
    net[len(net) - 1] = nn.Sigmoid()


DEFECTS = {
    f.__name__: f for f in (no_g_batchnorm, lr_x10, label_swap, tanh_to_identity, sigmoid_output)
}
