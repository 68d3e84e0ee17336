"""Several seeds of one model trained as one batched computation.

Paper protocols need many runs (PacGAN's Table 1: 80 runs of 400,000 steps).
Small MLPs are launch-bound, so ten seeds cost little more than one when
their parameters are stacked along a leading member dimension and every
layer runs one batched matmul (baselines/stacked_layers.py). Each member is
built exactly as a single run builds it (its own seed, its own factory call),
draws its own data and noise streams, and gets only its own loss's gradient
(the loss is a sum of per-member losses); Adam is elementwise. A member's
training is therefore the single run's, up to the rounding of a batched matmul.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.training.gan import GAN


def _tensors(module: nn.Module) -> list[tuple[nn.Module, str, bool]]:
    """(owner, attribute name, is_parameter) for every parameter and buffer."""
    return [
        (owner, name, is_param)
        for owner in module.modules()
        for table, is_param in ((owner._parameters, True), (owner._buffers, False))
        for name, tensor in table.items()
        if tensor is not None
    ]


def _stack_modules(modules: list[nn.Module]) -> nn.Module:
    stacked = copy.deepcopy(modules[0])
    slots = [_tensors(m) for m in modules]
    for index, (owner, name, is_param) in enumerate(_tensors(stacked)):
        parts = [getattr(s[index][0], s[index][1]) for s in slots]
        if parts[0].dim() == 0 or parts[0].shape[0] != 1:
            raise GanbenchError(
                f"{type(modules[0]).__name__}.{name}: shape {tuple(parts[0].shape)} has no "
                "member dimension of size 1; only models built from stacked layers "
                "(e.g. mlp-gan) can train as an ensemble: remove [training] ensemble"
            )
        joined = torch.cat([p.detach() for p in parts])
        if is_param:
            owner._parameters[name] = nn.Parameter(joined, requires_grad=parts[0].requires_grad)
        else:
            owner._buffers[name] = joined
    return stacked


def stack(gans: list[GAN]) -> GAN:
    """One GAN whose networks hold every member's parameters, in the order given."""
    first = gans[0]
    settings = [dataclasses.replace(g, generator=None, discriminator=None) for g in gans]
    if any(s != settings[0] for s in settings):
        raise GanbenchError("ensemble members must share their optimiser and loss settings")
    return dataclasses.replace(
        first,
        generator=_stack_modules([g.generator for g in gans]),
        discriminator=_stack_modules([g.discriminator for g in gans]),
        ensemble=len(gans),
    )


def _member_module(module: nn.Module, index: int) -> nn.Module:
    single = copy.deepcopy(module)
    for owner, name, is_param in _tensors(single):
        part = getattr(owner, name)[index : index + 1].detach().clone()
        if is_param:
            owner._parameters[name] = nn.Parameter(part)
        else:
            owner._buffers[name] = part
    return single


def member(gan: GAN, index: int) -> GAN:
    """Member `index` as a single GAN (a copy), for metrics, pictures and checkpoints."""
    if gan.ensemble == 1:
        return gan
    return dataclasses.replace(
        gan,
        generator=_member_module(gan.generator, index),
        discriminator=_member_module(gan.discriminator, index),
        ema_generator=(
            None if gan.ema_generator is None else _member_module(gan.ema_generator, index)
        ),
        ensemble=1,
    )


class StackedBatches:
    """Every member's own batch stream, stacked: (members, batch, ...)."""

    def __init__(self, sources: list[Any]) -> None:
        self.sources = sources

    def __call__(self) -> torch.Tensor:
        return torch.stack([source() for source in self.sources])

    def state_dict(self) -> dict[str, Any]:
        return {"members": [source.state_dict() for source in self.sources]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for source, member_state in zip(self.sources, state["members"], strict=True):
            source.load_state_dict(member_state)
