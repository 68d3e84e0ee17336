"""The interface every dataset offers the training loop and the metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch


class Dataset(ABC):
    """A source of real samples in model space.

    The training loop only ever asks for `sampler(...)()`, one batch at a time,
    so a dataset is free to keep everything on the GPU (images) or to draw
    fresh samples (mixtures of Gaussians) without a DataLoader in the hot loop.
    """

    name: str
    sample_shape: tuple[int, ...]
    #: Samples lie in [-1, 1] (images scaled from uint8); generators end in tanh.
    bounded: bool = False

    @abstractmethod
    def sampler(
        self, batch_size: int, device: torch.device, seed: int
    ) -> Callable[[], torch.Tensor]:
        """Returns a function that yields the next training batch on `device`."""

    @abstractmethod
    def real_samples(self, n: int, seed: int) -> torch.Tensor:
        """`n` real samples on the CPU, for metrics and pictures (deterministic per seed)."""
