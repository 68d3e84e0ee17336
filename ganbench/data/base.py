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


class EpochBatches:
    """Epochs of shuffled batches gathered by index from a tensor on the device, with an
    on-device permutation; a batch that would run past an epoch's end starts the next
    one. Its state (RNG, order, position) goes into checkpoints."""

    def __init__(self, samples: torch.Tensor, batch_size: int, generator: torch.Generator):
        self.samples, self.batch_size, self.generator = samples, batch_size, generator
        self.order = torch.empty(0, dtype=torch.long, device=samples.device)
        self.position = 0

    def convert(self, batch: torch.Tensor) -> torch.Tensor:
        """What the model sees of a gathered batch (images: floats in [-1, 1])."""
        return batch

    def __call__(self) -> torch.Tensor:
        if self.position + self.batch_size > self.order.numel():
            self.order = torch.randperm(
                self.samples.shape[0], generator=self.generator, device=self.samples.device
            )
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return self.convert(self.samples[index])

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": self.order.cpu(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].to(self.samples.device)
        self.position = state["position"]


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
