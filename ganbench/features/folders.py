"""Images from a folder, and FID statistics from/to .npz files (pytorch-fid's format: mu, sigma)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganbench.errors import GanbenchError
from ganbench.metrics.fid import GaussianStats, stats_problem
from ganbench.results import atomic_write_bytes

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
        except Image.DecompressionBombError as e:  # a 20000x20000 PNG would fill the memory
            raise GanbenchError(f"{path}: image too large to decode safely ({e})") from None
        image = torch.from_numpy(pixels.copy()).reshape(*pixels.shape[:2], -1).permute(2, 0, 1)
        if images and image.shape != images[0].shape:
            raise GanbenchError(
                f"{path}: size {tuple(image.shape[1:])} differs from "
                f"{paths[0].name}'s {tuple(images[0].shape[1:])}; {mismatch_fix}"
            )
        images.append(image)
    return torch.stack(images)


def load_npz(path: Path) -> GaussianStats:
    """pytorch-fid's statistics file, checked: a NaN, a non-symmetric or negative-definite
    sigma, or shapes that do not fit would give a meaningless FID rather than an error."""
    try:
        with np.load(path, allow_pickle=False) as f:
            mu, sigma = f["mu"], f["sigma"]
    except (OSError, ValueError, EOFError) as e:
        raise GanbenchError(f"{path}: not a statistics .npz ({e})") from None
    except KeyError as e:
        raise GanbenchError(
            f"{path}: field {e} missing; expected arrays 'mu' and 'sigma' (pytorch-fid's format)"
        ) from None
    if not all(np.issubdtype(a.dtype, np.number) for a in (mu, sigma)):
        raise GanbenchError(
            f"{path}: mu and sigma must be numeric arrays, got {mu.dtype} and {sigma.dtype}"
        )
    stats = GaussianStats(
        torch.from_numpy(mu.astype(np.float64)), torch.from_numpy(sigma.astype(np.float64)), 0
    )
    if problem := stats_problem(stats):
        raise GanbenchError(f"{path}: {problem}; these are not FID statistics")
    return stats


def npz_path(path: Path) -> Path:
    """Where `--save-stats PATH` writes: numpy's savez adds .npz, so say so up front."""
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_npz(path: Path, stats: GaussianStats) -> None:
    """Writes pytorch-fid's format atomically (a crash leaves the old file or none)."""
    buffer = io.BytesIO()
    np.savez(buffer, mu=stats.mu.numpy(), sigma=stats.sigma.numpy(), n=stats.n)
    atomic_write_bytes(npz_path(path), buffer.getvalue())
