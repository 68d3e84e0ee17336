"""Fully connected layers whose parameters carry a leading "member" dimension.

A single network has one member; `ganbench.training.ensemble.stack` concatenates
the parameters of several single networks (one per seed) along that dimension,
so that one batched matmul trains every seed at once. Each layer maps
(members, N, features) to (members, N, features'), and every operation acts on
each member alone, so a member's numbers are those of the network trained alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Weight initialisations the papers' MLPs use.
INITS = ("default", "normal-0.02", "xavier")


class StackedLinear(nn.Module):
    """`nn.Linear` per member: y = x W + b with W stored (members, in, out).

    Stored input-major so that the forward matmul, its weight gradient and Adam all
    run on contiguous memory (a transposed view made the weight's gradient
    non-contiguous, and Adam's elementwise steps on it 10x slower)."""

    #: Tells ganbench.training.spectral_norm the weight is (members, in, out).
    stacked_weight = True

    def __init__(self, inputs: int, outputs: int, bias: bool = True, init: str = "default") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, inputs, outputs))
        self.bias = nn.Parameter(torch.empty(1, outputs)) if bias else None
        weight = torch.empty(outputs, inputs)  # nn.Linear's layout, for its initialisers
        if init == "default":  # nn.Linear's own draws, in its order: old results keep their seeds
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            if self.bias is not None:
                bound = 1 / math.sqrt(inputs)
                nn.init.uniform_(self.bias, -bound, bound)
        else:
            if init == "normal-0.02":  # PacGAN (blocks IsotropicGaussian(0.02)), biases 0
                nn.init.normal_(weight, 0.0, 0.02)
            elif init == "xavier":  # TF-slim's default (VEEGAN), biases 0
                nn.init.xavier_uniform_(weight)
            else:
                raise ValueError(f"init {init!r} is not one of {', '.join(INITS)}")
            if self.bias is not None:
                nn.init.zeros_(self.bias)
        with torch.no_grad():
            self.weight.copy_(weight.T.unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


class StackedMaxout(nn.Module):
    """Maxout (Goodfellow et al. 2013) as blocks' LinearMaxout: a linear map to
    outputs x pieces, then the maximum over each unit's pieces."""

    def __init__(self, inputs: int, outputs: int, pieces: int, init: str = "default") -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = StackedLinear(inputs, outputs * pieces, init=init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        # max(), not amax(): its backward routes the gradient by index, 2x cheaper here
        return y.view(*y.shape[:-1], -1, self.pieces).max(-1).values


class StackedBatchNorm(nn.Module):
    """Batch normalisation per member, over groups of the batch.

    `groups` > 1 normalises each consecutive block of N / groups rows with its
    own statistics: PacGAN's code runs the generator once per packed sample, so
    its batch statistics come from one batch of `batch_size`, not from all the
    packed samples together. The running statistics move by `momentum` toward
    the mean of the groups' statistics (PacGAN: 0.05, averaged over the packed
    applications), and use the biased variance as blocks does; eps 1e-4 is
    blocks' default.
    """

    def __init__(self, features: int, momentum: float = 0.05, eps: float = 1e-4) -> None:
        super().__init__()
        self.momentum, self.eps, self.groups = momentum, eps, 1
        self.weight = nn.Parameter(torch.ones(1, features))
        self.bias = nn.Parameter(torch.zeros(1, features))
        self.register_buffer("running_mean", torch.zeros(1, features))
        self.register_buffer("running_var", torch.ones(1, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, n, features = x.shape
        if self.training:
            grouped = x.view(members, self.groups, n // self.groups, features)
            var, mean = torch.var_mean(grouped, dim=2, unbiased=False, keepdim=True)
            x = ((grouped - mean) / torch.sqrt(var + self.eps)).view(members, n, features)
            with torch.no_grad():
                self.running_mean.lerp_(mean.mean(dim=(1, 2)), self.momentum)
                self.running_var.lerp_(var.mean(dim=(1, 2)), self.momentum)
        else:
            x = (x - self.running_mean.unsqueeze(1)) / torch.sqrt(
                self.running_var.unsqueeze(1) + self.eps
            )
        return x * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


def with_member_dim(x: torch.Tensor, trailing: int) -> tuple[torch.Tensor, bool]:
    """(N, ...) -> (1, N, ...) for a single network; (members, N, ...) is left alone.
    Returns the tensor and whether a dimension was added (to be removed again)."""
    if x.dim() == trailing + 1:
        return x.unsqueeze(0), True
    return x, False
