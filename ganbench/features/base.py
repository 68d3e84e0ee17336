"""What every feature extractor offers the metrics."""

from __future__ import annotations

import time
from typing import Protocol

import torch

from ganbench.progress import Progress


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


def batched(
    extract,
    images: torch.Tensor,
    batch_size: int,
    device: torch.device,
    label: str | None = None,
) -> torch.Tensor:
    """Runs `extract` over uint8 images in batches on `device`; features come back float64 CPU.

    With a `label`, shows images embedded, images/s and the time left: Inception on 10k
    images takes minutes on a CPU, and a silent terminal looks like a hang."""
    total = images.shape[0]
    progress = Progress(label, total) if label and total > batch_size else None
    out = []
    with torch.inference_mode():
        for i in range(0, total, batch_size):
            out.append(extract(images[i : i + batch_size].to(device)).double().cpu())
            done = i + batch_size
            if progress is not None and done < total:  # the last line is close()'s
                rate = done / max(time.perf_counter() - progress.start, 1e-9)
                progress.update(done, f"{rate:,.0f} images/s, {(total - done) / rate:.0f}s left")
    if progress is not None:
        progress.close(f"{total / max(time.perf_counter() - progress.start, 1e-9):,.0f} images/s")
    return torch.cat(out) if out else torch.empty(0)
