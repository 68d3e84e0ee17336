"""GAN losses, one small table chosen by name (a suite's `loss = "..."`).

- `ns`: the non-saturating loss of Goodfellow et al. 2014, section 3: D minimises
  -log D(x) - log(1 - D(G(z))), G minimises -log D(G(z)).
- `minimax`: the same D loss; G minimises log(1 - D(G(z))), the game's value
  itself (Goodfellow et al. 2014, eq. 1), which saturates when D wins.
- `hinge` (Lim & Ye 2017; Miyato et al. 2018): D minimises E max(0, 1 - D(x)) +
  E max(0, 1 + D(G(z))), G minimises -E D(G(z)).
- `lsgan` (Mao et al. 2017, a = 0, b = c = 1): D minimises 1/2 E (D(x) - 1)^2 +
  1/2 E D(G(z))^2, G minimises 1/2 E (D(G(z)) - 1)^2.
- `wgan-gp` (Gulrajani et al. 2017): the critic minimises E D(G(z)) - E D(x) plus
  gp_weight E (||grad D(x_hat)|| - 1)^2 on random interpolates (the penalty is
  computed by the training loop, `gradient_penalty`), G minimises -E D(G(z)).

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


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_logits).mean(-1) + F.relu(1 + fake_logits).mean(-1)


def critic_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E D(G(z)): hinge and WGAN generators."""
    return -fake_logits.mean(-1)


def lsgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (real_logits - 1).square().mean(-1) + 0.5 * fake_logits.square().mean(-1)


def lsgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake_logits - 1).square().mean(-1)


def wasserstein_critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return fake_logits.mean(-1) - real_logits.mean(-1)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor,
    packing: int = 1,
    members: bool = False,
) -> torch.Tensor:
    """E (||grad critic(x_hat)||_2 - 1)^2 with x_hat = eps x + (1 - eps) G(z) and eps ~ U(0, 1)
    per sample, broadcast over its features (Gulrajani et al. 2017, Algorithm 1). The norm
    is taken over everything the critic judges as one example: with packing, the m samples
    concatenated. With `members`, the leading dimension holds ensemble members, and one
    penalty per member is returned.
    """
    lead = 2 if members else 1
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    per_sample = grad.flatten(lead).square().sum(-1)  # (..., N)
    per_example = per_sample.unflatten(-1, (packing, -1)).sum(-2)  # (..., N / packing)
    return (per_example.sqrt() - 1).square().mean(-1)


@dataclass(frozen=True)
class Loss:
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]
    #: The training loop adds gp_weight x gradient_penalty to the discriminator's loss.
    penalty: bool = False


LOSSES: dict[str, Loss] = {
    "ns": Loss(discriminator_loss, generator_loss),
    "minimax": Loss(discriminator_loss, minimax_generator_loss),
    "hinge": Loss(hinge_discriminator_loss, critic_generator_loss),
    "lsgan": Loss(lsgan_discriminator_loss, lsgan_generator_loss),
    "wgan-gp": Loss(wasserstein_critic_loss, critic_generator_loss, penalty=True),
}
