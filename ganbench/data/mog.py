"""2-D mixtures of Gaussians for mode-collapse experiments.

Geometry follows the Unrolled GAN / VEEGAN / PacGAN benchmarks: `ring-8` is
8 equal-weight Gaussians on a circle of radius 2 with std 0.02, `grid-25` a
5x5 grid with spacing 2 ({-4,-2,0,2,4}^2) and std 0.05. Ring means are placed
at angles 2*pi*k/8 for k = 0..7; the widespread `linspace(0, 2*pi, 8)` puts
the last mean on top of the first and silently gives only 7 modes.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganbench.data.base import Dataset, EpochBatches
from ganbench.registry import DATASETS


class MixtureOfGaussians(Dataset):
    """Equal-weight isotropic Gaussians with a shared std.

    By default every training batch is drawn fresh. With `train_points` N > 0 the
    training set is N points drawn once per seed and iterated in shuffled epochs,
    as the papers did (PacGAN: 100,000 points, 400 epochs).
    """

    sample_shape = (2,)

    def __init__(self, name: str, means: torch.Tensor, std: float, train_points: int = 0) -> None:
        self.name = name
        self.means = means.to(torch.float32)
        self.std = float(std)
        self.train_points = train_points

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draws `n` points on the generator's device."""
        device = generator.device
        means = self.means.to(device)
        modes = torch.randint(0, self.num_modes, (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device)
        return means[modes] + self.std * noise

    def sampler(
        self, batch_size: int, device: torch.device, seed: int
    ) -> PointBatches | EpochBatches:
        generator = torch.Generator(device=device).manual_seed(seed)
        if self.train_points:
            if batch_size > self.train_points:
                raise ValueError(f"batch of {batch_size} from {self.train_points} training points")
            return EpochBatches(self.sample(self.train_points, generator), batch_size, generator)
        return PointBatches(self, batch_size, generator)

    def real_samples(self, n: int, seed: int) -> torch.Tensor:
        return self.sample(n, torch.Generator().manual_seed(seed))


class PointBatches:
    """Fresh batches from the mixture; its state (the RNG) can be checkpointed."""

    def __init__(self, data: MixtureOfGaussians, batch_size: int, generator: torch.Generator):
        self.data, self.batch_size, self.generator = data, batch_size, generator

    def __call__(self) -> torch.Tensor:
        return self.data.sample(self.batch_size, self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def ring_means(num_modes: int, radius: float) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def grid_means(size: int, spacing: float) -> torch.Tensor:
    axis = (torch.arange(size, dtype=torch.float64) - (size - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


@DATASETS.register("ring-8", capabilities={"modes"})
def ring_8(*, radius: float = 2.0, std: float = 0.02, train_points: int = 0) -> MixtureOfGaussians:
    """8 Gaussians on a circle: radius 2, std 0.02 (Unrolled GAN, VEEGAN); PacGAN: 1, 0.01."""
    return MixtureOfGaussians("ring-8", ring_means(8, radius), std, train_points)


@DATASETS.register("grid-25", capabilities={"modes"})
def grid_25(
    *, spacing: float = 2.0, std: float = 0.05, train_points: int = 0
) -> MixtureOfGaussians:
    """5x5 grid of Gaussians (spacing 2, std 0.05), as in VEEGAN and PacGAN."""
    return MixtureOfGaussians("grid-25", grid_means(5, spacing), std, train_points)
