"""The interface every dataset offers the training loop and the metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

import torch


class BatchSource(Protocol):
    """Yields training batches on the device; its state goes into checkpoints."""

    def __call__(self) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


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
    def sampler(self, batch_size: int, device: torch.device, seed: int) -> BatchSource:
        """Returns the source of training batches on `device`, seeded."""

    @abstractmethod
    def real_samples(self, n: int, seed: int) -> torch.Tensor:
        """`n` real samples on the CPU, for metrics and pictures (deterministic per seed)."""
