"""FID statistics to and from .npz files in pytorch-fid's format (arrays mu and sigma), so
that statistics made by pytorch-fid, torch-fidelity or clean-fid can be read and ours
given to them."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.fid import GaussianStats, stats_problem
from ganbench.results.files import atomic_write_bytes


def load_npz(path: Path) -> GaussianStats:
    """pytorch-fid's statistics file, checked: a NaN, a non-symmetric or negative-definite
    sigma, or shapes that do not fit would give a meaningless FID rather than an error."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("mu", "sigma") if k not in f.files]
            if missing:
                raise GanbenchError(
                    f"{path}: no array {' or '.join(map(repr, missing))} (it holds "
                    f"{', '.join(map(repr, f.files)) or 'none'}); expected arrays 'mu' and "
                    "'sigma' (pytorch-fid's format)"
                )
            mu, sigma = f["mu"], f["sigma"]
    except (
        OSError,
        ValueError,
        EOFError,
        AttributeError,
        TypeError,
        zipfile.BadZipFile,
        zlib.error,
    ) as e:
        # AttributeError, TypeError: a .npy named .npz loads as one array, not an archive;
        # BadZipFile, zlib.error: a truncated or damaged archive
        raise GanbenchError(f"{path}: not a statistics .npz ({e})") from None
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
