"""FID statistics to share, as clean-fid's precomputed files are shared: `ganbench stats`
and `ganbench.statistics`.

The file is pytorch-fid's format (mu, sigma) with the number of images and the settings
it was made with (metrics/fid_stats_file.py), so that FID against it is refused with
another extractor, resize or weights. A named split's features come from the cache a run
uses: the statistics of "mnist:test" equal those of a suite's reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganbench.api.functions import Options, checked, gaussians
from ganbench.metrics.fid import GaussianStats


def statistics(
    images: Any,
    *,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
    out: str | Path | None = None,
) -> tuple[GaussianStats, dict[str, Any]]:
    """The Gaussian (mean, covariance, count) of `images`' features and the settings that
    made it; written to `out` (.npz) when given, for `ganbench fid`, `ganbench.fid` or
    pytorch-fid and clean-fid to read."""
    from ganbench.metrics.features import extractor_per_device
    from ganbench.metrics.fid_stats_file import save_npz

    checked("fid", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    side = options.source(images, "real", real_split, statistics=True)
    device_ = options.resolved_device()
    made = lambda: extractor_per_device(extractor, preprocess, weights)(device_)  # noqa: E731
    [stats], _, net_settings = gaussians([side], made, batch_size, device_, samples)
    stats = GaussianStats(stats.mu.cpu(), stats.sigma.cpu(), stats.n)
    settings = {"extractor": net_settings, "images": side.describe("real", stats.n)}
    if out is not None:
        save_npz(Path(out), stats, settings)
    return stats, settings
