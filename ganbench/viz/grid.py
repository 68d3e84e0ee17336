"""Sample grids of generated images (torchvision's save_image)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image

from ganbench.viz.files import write_atomically


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """Writes images in [-1, 1] (N, C, H, W) as one PNG grid (square-ish unless nrow is given)."""
    nrow = nrow or math.ceil(math.sqrt(images.shape[0]))
    return write_atomically(
        path,
        lambda tmp: save_image(
            images.float().cpu(), tmp, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2
        ),
    )
