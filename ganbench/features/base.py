"""What every feature extractor offers the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from ganbench.runtime import distributed
from ganbench.runtime.progress import Progress


class Extractor(Protocol):
    """Maps uint8 images (N, C, H, W) in [0, 255] to features (N, dim).

    Every extractor takes uint8 so that the conversion from a generator's
    floats happens once, the same way for real and generated images. Those that resize
    also take an ImageList of images of different sizes (each resized on its own).
    """

    name: str
    dim: int
    #: Everything that changes the features: weights hash, resize, input range.
    settings: dict

    #: Whether logits() works: the Inception Score needs the classifier layer, which
    #: not every weights file has.
    has_classifier: bool

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The classifier's logits from this extractor's own features (no second pass)."""
        ...

    def logits(self, images: torch.Tensor) -> torch.Tensor: ...

    def classifier_sha1(self) -> str: ...


class ImageList:
    """uint8 images (C, H, W) of different sizes, as a folder holds them: each is resized
    on its own by the extractor's preprocessing (each_resized), as the references resize
    each file they read. It slices and moves like the (N, C, H, W) tensor it stands in
    for, so batched() and torchrun's shares take either."""

    def __init__(self, images: list[torch.Tensor]) -> None:
        self.images = images

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.images),)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> ImageList:
        return ImageList(self.images[index])

    def to(self, device: torch.device | str) -> ImageList:
        return ImageList([image.to(device) for image in self.images])

    @property
    def dtype(self) -> torch.dtype:
        return self.images[0].dtype if self.images else torch.uint8

    def largest(self) -> tuple[int, ...]:
        """The shape of the largest image (what a batch's memory is sized by)."""
        return tuple(max(self.images, key=lambda image: image.numel()).shape)


def each_resized(
    prepare: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor | ImageList
) -> torch.Tensor:
    """`prepare` (uint8 images of one size -> the network's input, at its one size) on a
    batch, or on each image of an ImageList by itself, the results joined into one batch:
    the network sees what it would see of each image alone."""
    if isinstance(images, ImageList):
        return torch.cat([prepare(image[None]) for image in images.images])
    return prepare(images)


@dataclass(frozen=True)
class Embedding:
    """An extractor's output for one image set: features, and the classifier's logits
    where the extractor has one (both from one pass of the network)."""

    features: torch.Tensor  # (N, dim) float64
    logits: torch.Tensor | None  # (N, classes) float64


def embed(
    extractor: Extractor,
    images: torch.Tensor,
    batch_size: int,
    device: torch.device,
    label: str | None = None,
    keep_on_device: bool = False,
) -> Embedding:
    """Features and (with a classifier) logits in one pass: the logits are the head applied
    to the very features returned, so they equal `extractor.logits(images)` bit for bit."""
    if not extractor.has_classifier:
        features = batched(extractor, images, batch_size, device, label, keep_on_device)
        return Embedding(features, None)

    def both(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = extractor(batch)
        return features, extractor.head(features)

    return Embedding(*batched(both, images, batch_size, device, label, keep_on_device))


def batched(
    extract,
    images: torch.Tensor,
    batch_size: int,
    device: torch.device,
    label: str | None = None,
    keep_on_device: bool = False,
):
    """Runs `extract` over uint8 images in batches on `device`; its output (a tensor, or a
    tuple of them) comes back as float64 on the CPU, or stays on `device`. Under torchrun,
    each rank runs its share of the batches and all receive the whole (runtime/distributed.py).

    With a `label`, shows images embedded, images/s and the time left: Inception on 10k
    images takes minutes on a CPU, and a silent terminal looks like a hang."""
    return distributed.shared_batches(
        lambda share: _batched_here(extract, share, batch_size, device, label, keep_on_device),
        images,
        batch_size,
    )


def _batched_here(
    extract,
    images: torch.Tensor,
    batch_size: int,
    device: torch.device,
    label: str | None,
    keep_on_device: bool,
):
    total = images.shape[0]
    home = device if keep_on_device else torch.device("cpu")
    progress = Progress(label, total) if label and total > batch_size else None
    out = []
    with torch.inference_mode():
        for i in range(0, total, batch_size):
            result = extract(images[i : i + batch_size].to(device))
            parts = result if isinstance(result, tuple) else (result,)
            out.append(tuple(part.double().to(home) for part in parts))
            done = i + batch_size
            if progress is not None and done < total:  # the last line is close()'s
                rate = done / max(time.perf_counter() - progress.start, 1e-9)
                progress.update(done, f"{rate:,.0f} images/s, {(total - done) / rate:.0f}s left")
    if progress is not None:
        progress.close(f"{total / max(time.perf_counter() - progress.start, 1e-9):,.0f} images/s")
    if not out:
        return torch.empty(0)
    joined = tuple(torch.cat(column) for column in zip(*out, strict=True))
    return joined if len(joined) > 1 else joined[0]
