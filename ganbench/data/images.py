"""Image datasets held in memory as uint8 and, for training, resident on the device.

Small image datasets (MNIST, CIFAR-10) fit in GPU memory many times over, so
batches are gathered by index from a device tensor with an on-device
permutation: no DataLoader, no workers, no host-to-device copy in the hot loop.
Images are converted to floats in [-1, 1] one batch at a time, on the device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.data.base import Dataset, EpochBatches
from ganbench.errors import GanbenchError
from ganbench.runtime.environment import DATA_ROOT_ENV


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor  # uint8 or int64, (N,)


def to_model_space(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of a tanh generator."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding as torchvision's save_image does."""
    return images.add(1).mul(127.5).add_(0.5).clamp_(0, 255).to(torch.uint8)


class ImageBatches(EpochBatches):
    """Shuffled epochs of uint8 images held on the device, converted batch by batch."""

    def __init__(self, images: torch.Tensor, batch_size: int, device: torch.device, seed: int):
        super().__init__(
            images.to(device), batch_size, torch.Generator(device=device).manual_seed(seed)
        )
        self.channels_last = False

    def convert(self, batch: torch.Tensor) -> torch.Tensor:
        batch = to_model_space(batch)
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch


class ImageDataset(Dataset):
    """Train and test splits of uint8 images, with where they were read from."""

    bounded = True

    def __init__(self, name: str, train: Split, test: Split, source: str) -> None:
        self.name = name
        self.train = train
        self.test = test
        self.source = source
        self.sample_shape = tuple(train.images.shape[1:])

    def sampler(self, batch_size: int, device: torch.device, seed: int) -> ImageBatches:
        return ImageBatches(self.train.images, batch_size, device, seed)

    def real_samples(self, n: int, seed: int) -> torch.Tensor:
        """`n` test images in model space, a fixed random subset per seed."""
        index = torch.randperm(
            self.test.images.shape[0], generator=torch.Generator().manual_seed(seed)
        )[:n]
        return to_model_space(self.test.images[index])


def data_roots() -> list[Path]:
    """Where datasets are looked for, in order: $GANBENCH_DATA_ROOT (set by --data-root),
    ./data, ~/.cache/ganbench/data."""
    roots = [Path(os.environ[DATA_ROOT_ENV])] if os.environ.get(DATA_ROOT_ENV) else []
    return [*roots, Path("data"), Path.home() / ".cache" / "ganbench" / "data"]


def missing_dataset(name: str, looked_for: list[str], fix: str) -> GanbenchError:
    places = "\n  ".join(looked_for)
    return GanbenchError(f"dataset {name!r} not found. Looked for:\n  {places}\nFix: {fix}")
