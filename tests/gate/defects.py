"""Defects a CI gate must catch, each a one-line slip in a GAN's code.

Each defect breaks one thing in whatever network the model's factory builds. A proof
injects it as a push that broke the model would: `install(defect, model)` wraps the
model's factory in this process (a built-in's registry entry, or a project's
`module:function`), so the run records the same model name, parameters and definition
as the healthy baseline, and `ganbench compare` compares it rather than refusing it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from ganbench.registry import MODELS
from ganbench.training import GAN, Loss
from ganbench.training.losses import discriminator_loss, generator_loss

#: Every how many discriminator steps the label-swap defect swaps real and fake.
SWAP_EVERY = 10


def wrap(factory: Callable[..., GAN], defect: str) -> Callable[..., GAN]:
    """`factory` with `defect` applied to every GAN it builds (same parameters)."""

    @functools.wraps(factory)
    def broken(data, **params) -> GAN:
        gan = factory(data, **params)
        DEFECTS[defect](gan)
        return gan

    return broken


def install(defect: str, model: str) -> None:
    """Makes `model` (a built-in name or "module:function") build broken networks in this
    process, under its own name."""
    if ":" in model:
        module_name, _, attribute = model.partition(":")
        module = importlib.import_module(module_name)
        setattr(module, attribute, wrap(getattr(module, attribute), defect))
        return
    entry = MODELS.get(model)
    MODELS._entries[model] = replace(entry, target=wrap(entry.factory, defect))


def _replace(network: nn.Module, kind: type[nn.Module]) -> None:
    for parent in network.modules():
        for name, child in parent.named_children():
            if isinstance(child, kind):
                setattr(parent, name, nn.Identity())


def no_g_batchnorm(gan: GAN) -> None:
    """The generator's batch norm layers removed."""
    _replace(gan.generator, nn.BatchNorm2d)


def lr_x10(gan: GAN) -> None:
    """Both learning rates 10x too high (2e-3)."""
    gan.lr_g *= 10
    gan.lr_d *= 10


def tanh_to_identity(gan: GAN) -> None:
    """The generator's output tanh replaced by identity."""
    _replace(gan.generator, nn.Tanh)


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


def sigmoid_output(gan: GAN) -> None:
    """The generator's output tanh replaced by a sigmoid (images in [0, 1], not [-1, 1])."""
    for parent in gan.generator.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Tanh):
                setattr(parent, name, nn.Sigmoid())


DEFECTS = {
    f.__name__: f for f in (no_g_batchnorm, lr_x10, label_swap, tanh_to_identity, sigmoid_output)
}
