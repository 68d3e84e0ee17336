"""Fréchet Inception Distance.

Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter 2017, "GANs Trained by a
Two Time-Scale Update Rule Converge to a Local Nash Equilibrium":
FID = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to
the features of real and generated images.

The trace of (S1 S2)^(1/2) is computed as the sum of the square roots of the
eigenvalues of sqrt(S1) S2 sqrt(S1), which has the same eigenvalues as S1 S2
but is symmetric positive semi-definite: two symmetric eigendecompositions in
float64, no complex numbers, no NaN, and several times faster than the
general matrix square root (scipy.linalg.sqrtm) that pytorch-fid uses.
Statistics are float64 so that the result does not depend on batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganbench.data.images import to_uint8
from ganbench.features.base import Extractor, batched
from ganbench.features.cache import cached_tensors, images_hash
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.registry import EXTRACTORS, METRICS


@dataclass(frozen=True)
class GaussianStats:
    mu: torch.Tensor  # (d,) float64
    sigma: torch.Tensor  # (d, d) float64
    n: int


def gaussian_stats(features: torch.Tensor) -> GaussianStats:
    """Mean and unbiased covariance (as numpy.cov) of features (N, d), in float64."""
    x = features.to(torch.float64)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {x.shape[0]}")
    d = x.shape[1]
    return GaussianStats(x.mean(0), torch.cov(x.T).reshape(d, d), x.shape[0])


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """The Fréchet distance between N(a.mu, a.sigma) and N(b.mu, b.sigma)."""
    mu1, s1 = a.mu.double(), a.sigma.double()
    mu2, s2 = b.mu.double(), b.sigma.double()
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"feature dimensions differ: {tuple(mu1.shape)} vs {tuple(mu2.shape)}")
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    # Exact arithmetic gives >= 0; rounding on large traces can give -1e-10 relative.
    return max(float(diff @ diff + s1.trace() + s2.trace() - 2 * trace_sqrt), 0.0)


# --- FID as a suite metric -------------------------------------------------------------------


def real_stats(
    data_name: str,
    real: torch.Tensor,
    extractor: Extractor,
    batch_size: int,
    device: torch.device,
    settings: dict,
) -> GaussianStats:
    """Statistics of real uint8 images, cached under every setting and the images' hash."""
    key = {"dataset": data_name, "images_sha1": images_hash(real), **settings}
    tensors = cached_tensors(
        key, lambda: _as_tensors(gaussian_stats(batched(extractor, real, batch_size, device)))
    )
    return GaussianStats(tensors["mu"], tensors["sigma"], int(tensors["n"]))


def _as_tensors(stats: GaussianStats) -> dict[str, torch.Tensor]:
    return {"mu": stats.mu, "sigma": stats.sigma, "n": torch.tensor(stats.n)}


def fid_metric(
    key: str, extractor_name: str, samples: int, real_split: str, batch_size: int
) -> MetricFn:
    """N generated images against the first N images of the dataset's `real_split`."""
    extractors: dict[str, Extractor] = {}  # one per device, loaded on first use

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        device = next(ctx.gan.generator.parameters()).device
        if str(device) not in extractors:
            extractors[str(device)] = EXTRACTORS.get(extractor_name).factory(device=str(device))
        extractor = extractors[str(device)]
        real = getattr(ctx.data, real_split).images[:samples]
        settings = {
            **extractor.settings,
            "samples": samples,
            "real_split": real_split,
            "real_samples": real.shape[0],
        }
        reference = real_stats(ctx.data.name, real, extractor, batch_size, device, settings)
        fake = to_uint8(ctx.gan.sample(samples, seed=ctx.seed))
        generated = gaussian_stats(batched(extractor, fake, batch_size, device))
        return {key: Measurement(frechet_distance(reference, generated), "", False, settings)}

    return measure


@METRICS.register("fid", requires={"images"}, keys=("fid",))
def fid(
    *,
    samples: int = 10000,
    real_split: str = "test",
    batch_size: int = 200,
    extractor: str = "inception",
) -> MetricFn:
    """FID with the TTUR Inception (pool3), N generated vs N real images."""
    return fid_metric("fid", extractor, samples, real_split, batch_size)


@METRICS.register("fid-mnist", requires={"digits"}, keys=("fid_mnist",))
def fid_mnist(
    *, samples: int = 10000, real_split: str = "test", batch_size: int = 1000
) -> MetricFn:
    """FID with ganbench's MNIST classifier features (128-d): cheap, for 28x28 digits."""
    return fid_metric("fid_mnist", "mnist-classifier", samples, real_split, batch_size)
