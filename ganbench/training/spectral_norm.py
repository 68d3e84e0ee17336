"""Spectral normalisation of the discriminator (Miyato et al. 2018, "Spectral
Normalization for Generative Adversarial Networks", ICLR).

Each weight W is used as W / sigma(W), with sigma(W) its largest singular value
estimated by one step of power iteration per forward pass in training mode
(the paper's Algorithm 1; u and v persist between steps, so the estimate
converges as training goes). The gradient flows through sigma as in the
paper; u and v are constants to it.

torch.nn.utils.parametrizations.spectral_norm treats a weight's first
dimension as the output, which is wrong for ganbench's stacked layers
(members, in, out): there each member's matrix is normalised by its own sigma,
so an ensemble member is the network trained alone. One parametrization here
serves both layouts (a layer says its weight is stacked with a class attribute
`stacked_weight = True`), and `apply` puts it on every Linear, Conv and stacked
layer of a network, built-in or a user's, from one suite line
(`spectral_norm = true`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

PLAIN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class SpectralNorm(nn.Module):
    """A parametrization W -> W / sigma(W), one sigma per member of a stacked weight."""

    def __init__(self, weight: torch.Tensor, stacked: bool, eps: float = 1e-12) -> None:
        super().__init__()
        self.stacked, self.eps = stacked, eps
        members, outputs, inputs = self.matrices(weight).shape
        u = torch.randn(members, outputs, device=weight.device, dtype=weight.dtype)
        v = torch.randn(members, inputs, device=weight.device, dtype=weight.dtype)
        self.register_buffer("u", F.normalize(u, dim=-1, eps=eps))
        self.register_buffer("v", F.normalize(v, dim=-1, eps=eps))

    def matrices(self, weight: torch.Tensor) -> torch.Tensor:
        """(members, out, in): a stacked weight is stored (members, in, out); a plain one
        (out, in, kernel...) is one member whose inputs are flattened, as in the paper."""
        return weight.transpose(1, 2) if self.stacked else weight.flatten(1).unsqueeze(0)

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """The current estimate of each member's largest singular value, (members,)."""
        matrices = self.matrices(weight)
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.einsum("mo,moi->mi", self.u, matrices), dim=-1, eps=self.eps)
                u = F.normalize(torch.einsum("moi,mi->mo", matrices, v), dim=-1, eps=self.eps)
                self.u.copy_(u)
                self.v.copy_(v)
        # clones: a second forward before backward updates u and v in place
        return torch.einsum("mo,moi,mi->m", self.u.clone(), matrices, self.v.clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        sigma = self.sigma(weight)
        if self.stacked:
            return weight / sigma.view(-1, 1, 1)
        return weight / sigma[0]


def apply(network: nn.Module) -> int:
    """Spectrally normalise every Linear, Conv and stacked layer's weight of `network` in
    place; returns how many weights it normalised."""
    layers = [
        m
        for m in network.modules()
        if isinstance(m, PLAIN_LAYERS) or getattr(m, "stacked_weight", False)
    ]
    for layer in layers:
        stacked = getattr(layer, "stacked_weight", False)
        parametrize.register_parametrization(
            layer, "weight", SpectralNorm(layer.weight.detach(), stacked)
        )
    return len(layers)
