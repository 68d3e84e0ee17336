"""Images from a folder, and FID statistics from/to .npz files (pytorch-fid's format: mu, sigma)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganbench.errors import GanbenchError
from ganbench.metrics.fid import GaussianStats

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_folder(
    folder: Path,
    grayscale: bool,
    resolution: int = 0,
    mismatch_fix: str = "resize the folder to one size first (resizing changes FID)",
) -> torch.Tensor:
    """Every image below `folder` as one uint8 tensor (N, C, H, W): resized to
    `resolution` square (bicubic) when set, else all must share a size."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise GanbenchError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    images = []
    for path in paths:
        try:
            with Image.open(path) as f:
                image = f.convert("L" if grayscale else "RGB")
                if resolution:
                    image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
                pixels = np.asarray(image)
        except (OSError, UnidentifiedImageError) as e:
            raise GanbenchError(f"{path}: cannot decode image ({e})") from None
        image = torch.from_numpy(pixels.copy()).reshape(*pixels.shape[:2], -1).permute(2, 0, 1)
        if images and image.shape != images[0].shape:
            raise GanbenchError(
                f"{path}: size {tuple(image.shape[1:])} differs from "
                f"{paths[0].name}'s {tuple(images[0].shape[1:])}; {mismatch_fix}"
            )
        images.append(image)
    return torch.stack(images)


def load_npz(path: Path) -> GaussianStats:
    try:
        with np.load(path) as f:
            mu, sigma = f["mu"], f["sigma"]
    except (OSError, ValueError) as e:
        raise GanbenchError(f"{path}: not a statistics .npz ({e})") from None
    except KeyError as e:
        raise GanbenchError(
            f"{path}: field {e} missing; expected arrays 'mu' and 'sigma' (pytorch-fid's format)"
        ) from None
    return GaussianStats(torch.from_numpy(mu).double(), torch.from_numpy(sigma).double(), 0)


def save_npz(path: Path, stats: GaussianStats) -> None:
    np.savez(path, mu=stats.mu.numpy(), sigma=stats.sigma.numpy(), n=stats.n)
