"""What a model is made of: layers, parameters and FLOPs per sample of G and D.

Two models with the same FID are not equally good if one needs ten times the
compute; and a user comparing their model with a baseline wants to know whether
it is the same size. FLOPs are counted by torch's FlopCounterMode on one forward
pass (matrix multiplications and convolutions, 2 FLOPs per multiply-add; element-wise
operations are not counted), in eval mode, per generated or judged sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganbench.training.gan import GAN

#: Forward passes are counted on a batch of this many (batch norm needs more than one).
BATCH = 2


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str
    parameters: int


@dataclass(frozen=True)
class NetworkSummary:
    network: str
    layers: tuple[Layer, ...]
    parameters: int
    flops_per_sample: float


def _layers(module: nn.Module) -> tuple[Layer, ...]:
    """The modules that hold parameters of their own (leaves of the parameter tree)."""
    return tuple(
        Layer(name, type(m).__name__, sum(p.numel() for p in m.parameters(recurse=False)))
        for name, m in module.named_modules()
        if any(True for _ in m.parameters(recurse=False))
    )


@torch.no_grad()
def _flops(module: nn.Module, inputs: torch.Tensor) -> float:
    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            module(inputs)
    finally:
        module.train(was_training)
    return counter.get_total_flops() / BATCH


def summarise(gan: GAN, sample_shape: tuple[int, ...]) -> tuple[NetworkSummary, NetworkSummary]:
    """The generator's and the discriminator's summaries (the discriminator judges
    `gan.packing` samples per example; its FLOPs are per sample)."""
    device = gan.device
    latents = gan.latents(BATCH, torch.Generator(device=device).manual_seed(0))
    samples = torch.zeros(BATCH * gan.packing, *sample_shape, device=device)
    out = []
    for label, network, inputs, per in (
        ("generator", gan.generator, latents, 1),
        ("discriminator", gan.discriminator, samples, gan.packing),
    ):
        out.append(
            NetworkSummary(
                label,
                _layers(network),
                sum(p.numel() for p in network.parameters()),
                _flops(network, inputs) / per,
            )
        )
    return out[0], out[1]


def summary_rows(summaries: tuple[NetworkSummary, ...]) -> list[list[str]]:
    """Rows for a table: network, layer, kind, parameters, then a total per network."""
    rows = []
    for s in summaries:
        rows += [[s.network, layer.name, layer.kind, f"{layer.parameters:,}"] for layer in s.layers]
        rows.append(
            [
                s.network,
                "total",
                f"{s.flops_per_sample / 1e6:,.2f} MFLOPs/sample",
                f"{s.parameters:,}",
            ]
        )
    return rows


HEADERS = ["network", "layer", "kind", "parameters"]
