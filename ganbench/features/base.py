"""What every feature extractor offers the metrics."""

from __future__ import annotations

from typing import Protocol

import torch


class Extractor(Protocol):
    """Maps uint8 images (N, C, H, W) in [0, 255] to features (N, dim).

    Every extractor takes uint8 so that the conversion from a generator's
    floats happens once, the same way for real and generated images.
    """

    name: str
    dim: int
    #: Everything that changes the features: weights hash, resize, input range.
    settings: dict

    #: Whether logits() works: the Inception Score needs the classifier layer, which
    #: not every weights file has.
    has_classifier: bool

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...

    def logits(self, images: torch.Tensor) -> torch.Tensor: ...

    def classifier_sha1(self) -> str: ...


def batched(extract, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """Runs `extract` over uint8 images in batches on `device`; features come back float64 CPU."""
    out = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            out.append(extract(images[i : i + batch_size].to(device)).double().cpu())
    return torch.cat(out) if out else torch.empty(0)
