"""A model from its registered factory and a suite's parameters: the factory builds the
networks, and the training procedure (loss, n_critic, EMA, spectral norm, ...) is applied
here, so that it works for every model, built-in or a user's, without the factory knowing."""

from __future__ import annotations

import dataclasses
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.registry import MODELS
from ganbench.training import spectral_norm
from ganbench.training.gan import GAN


def build_model(name: str, data: Any, params: dict[str, Any]) -> GAN:
    """The model `name` for `data`: its factory called with its own parameters, then the
    training-procedure parameters (loss, n_critic, ema, ...) applied to what it returned."""
    entry = MODELS.get(name)
    own = entry.own_parameters()
    gan = entry.factory(data, **{k: v for k, v in params.items() if k in own})
    if not isinstance(gan, GAN):
        raise GanbenchError(
            f"model {name!r}: the factory returned {type(gan).__name__}, not "
            "ganbench.training.GAN(generator, discriminator, latent_dim, lr_g, lr_d, ...)"
        )
    procedure = {k: v for k, v in params.items() if k not in own}
    gan = dataclasses.replace(gan, **procedure) if procedure else gan
    if gan.spectral_norm:
        spectral_norm.apply(gan.discriminator)
    return gan
