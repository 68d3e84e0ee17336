"""GAN losses, one small table chosen by name (a suite's `loss = "..."`).

- `ns`: the non-saturating loss of Goodfellow et al. 2014, section 3: D minimises
  -log D(x) - log(1 - D(G(z))), G minimises -log D(G(z)).
- `minimax`: the same D loss; G minimises log(1 - D(G(z))), the game's value
  itself (Goodfellow et al. 2014, eq. 1), which saturates when D wins.

Written with softplus on logits rather than BCE on sigmoid outputs: the same
value, but finite when the discriminator is confident. Each function averages
over the last dimension only, so stacked seeds (members, batch) get one loss
per member and the sum of those gives every member exactly its own gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), the discriminator's cross-entropy."""
    return F.softplus(-real_logits).mean(-1) + F.softplus(fake_logits).mean(-1)


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), the non-saturating generator objective."""
    return F.softplus(-fake_logits).mean(-1)


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))) = -softplus(logit): the generator minimises the game's value."""
    return -F.softplus(fake_logits).mean(-1)


@dataclass(frozen=True)
class Loss:
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]


LOSSES: dict[str, Loss] = {
    "ns": Loss(discriminator_loss, generator_loss),
    "minimax": Loss(discriminator_loss, minimax_generator_loss),
}
