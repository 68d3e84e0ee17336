"""The standard non-saturating GAN loss (Goodfellow et al. 2014, section 3).

Written with softplus on logits rather than BCE on sigmoid outputs: the same
value, but finite when the discriminator is confident.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z)))."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), the non-saturating generator objective."""
    return F.softplus(-fake_logits).mean()
