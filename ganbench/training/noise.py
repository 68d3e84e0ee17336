"""The latent noise a training run draws from: one stream per ensemble member, whose
state a checkpoint keeps (so a resumed run draws what the interrupted one would have)."""

from __future__ import annotations

import torch

from ganbench.training.gan import GAN

NOISE_SEED_OFFSET = 1_000_003


class Noise:
    """The latent noise streams, one generator per ensemble member, checkpointable."""

    def __init__(self, gan: GAN, device: torch.device, seeds: list[int]) -> None:
        self.gan = gan
        self.generators = [
            torch.Generator(device=device).manual_seed(s + NOISE_SEED_OFFSET) for s in seeds
        ]

    def __call__(self, n: int) -> torch.Tensor:
        if self.gan.ensemble == 1:
            return self.gan.latents(n, self.generators[0])
        return torch.stack([self.gan.latents(n, g) for g in self.generators])

    def interpolation_weights(self, like: torch.Tensor) -> torch.Tensor:
        """U(0, 1), one per sample (broadcast over its features), from each member's stream."""
        lead = 1 if self.gan.ensemble == 1 else 2
        shape = (like.shape[lead - 1], *([1] * (like.dim() - lead)))
        draws = [torch.rand(shape, generator=g, device=g.device) for g in self.generators]
        return draws[0] if self.gan.ensemble == 1 else torch.stack(draws)

    def get_state(self) -> torch.Tensor | list[torch.Tensor]:
        states = [g.get_state() for g in self.generators]
        return states[0] if self.gan.ensemble == 1 else states

    def set_state(self, state: torch.Tensor | list[torch.Tensor]) -> None:
        states = [state] if isinstance(state, torch.Tensor) else state
        for g, s in zip(self.generators, states, strict=True):
            g.set_state(s)
