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

from ganbench.errors import GanbenchError
from ganbench.metrics.base import MetricFn
from ganbench.metrics.features import FeatureScore, feature_metric
from ganbench.registry import METRICS


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


#: Relative tolerances of valid statistics: rounding leaves a covariance asymmetric or
#: with negative eigenvalues at about 1e-15 of its scale; a real defect is far larger.
SYMMETRY_TOLERANCE = 1e-6
PSD_TOLERANCE = 1e-6


def stats_problem(stats: GaussianStats) -> str | None:
    """Why `stats` cannot be a Gaussian's mean and covariance, or None: FID from them
    would be a number that means nothing (NaN, or 0 for a negative-definite sigma)."""
    mu, sigma = stats.mu, stats.sigma
    if mu.ndim != 1 or mu.shape[0] == 0:
        return f"mu must be a non-empty vector, got shape {tuple(mu.shape)}"
    d = mu.shape[0]
    if tuple(sigma.shape) != (d, d):
        return f"sigma must be {d}x{d} to match mu ({d},), got shape {tuple(sigma.shape)}"
    for name, array in (("mu", mu), ("sigma", sigma)):
        if not torch.isfinite(array).all():
            return f"{name} holds NaN or infinite values"
    scale = float(sigma.abs().max()) or 1.0
    if float((sigma - sigma.T).abs().max()) > SYMMETRY_TOLERANCE * scale:
        return "sigma is not symmetric, so it is not a covariance"
    lowest = float(torch.linalg.eigvalsh(sigma).min())
    if lowest < -PSD_TOLERANCE * scale:
        return f"sigma is not positive semi-definite (an eigenvalue is {lowest:.3g})"
    return None


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """The Fréchet distance between N(a.mu, a.sigma) and N(b.mu, b.sigma)."""
    mu1, s1 = a.mu.double(), a.sigma.double()
    mu2, s2 = b.mu.double(), b.sigma.double()
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(
            f"feature dimensions differ: mu {tuple(mu1.shape)} and sigma {tuple(s1.shape)} vs "
            f"mu {tuple(mu2.shape)} and sigma {tuple(s2.shape)}"
        )
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    # Exact arithmetic gives >= 0; rounding on large traces can give -1e-10 relative.
    return max(float(diff @ diff + s1.trace() + s2.trace() - 2 * trace_sqrt), 0.0)


# --- FID-infinity ----------------------------------------------------------------------------
# Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find
# them": FID_N is biased by a term linear in 1/N, so models measured at different N cannot
# be ranked. FID-infinity evaluates FID_N of random subsets of the generated features at
# `points` sizes evenly spaced from `smallest` to all of them (the authors: 15 sizes from
# 5,000 to 50,000, the real statistics fixed), fits FID_N = a + b / N by least squares and
# reports a, the value at 1/N = 0. As the authors, a generator is sampled for it from a
# scrambled Sobol sequence through the prior's inverse CDF (GAN.sobol_latents), which
# lowers the variance of the FID_N; images from folders are taken as they are.

INFINITY_POINTS = 15
#: The smallest subset, as a share of the generated features (the authors' 5,000 of 50,000).
INFINITY_SMALLEST = 0.1
#: FID-infinity fits FID_N at 3 or more subset sizes (subset_sizes): 4 generated images
#: is the least that gives 3 (tests/test_suite.py holds the two equal). Declared as a
#: rule of both registrations, so that `ganbench validate` refuses fewer before training.
INFINITY_MIN_SAMPLES = 4
INFINITY_RULE = {
    "param": "samples",
    "at_least": INFINITY_MIN_SAMPLES,
    "when": {"infinity": True},
    "because": "FID-infinity fits FID at 3 subset sizes or more",
}


def check_infinity_features(generated: torch.Tensor, label: str) -> None:
    """FID-infinity fits FID_N over subsets of the generated features: with no more images
    than dimensions every subset's covariance is singular and the fit means nothing (4
    images gave FID-infinity -11.65). The CLI, the library and a suite refuse it alike."""
    n, dims = generated.shape
    if n <= dims:
        raise GanbenchError(
            f"FID-infinity: {label} has {n} images, no more than the features' {dims} "
            "dimensions: every subset's covariance is singular and the fit FID_N = a + b/N "
            "means nothing; FID-infinity needs more images than dimensions (its authors fit "
            "5,000 to 50,000)"
        )


@dataclass(frozen=True)
class FidInfinity:
    value: float  # the fit's intercept: FID at 1/N = 0
    slope: float  # the bias term b of FID_N = a + b / N
    sizes: list[int]
    fids: list[float]


def subset_sizes(total: int, points: int = INFINITY_POINTS) -> list[int]:
    smallest = max(2, int(total * INFINITY_SMALLEST))
    return sorted({int(n) for n in torch.linspace(smallest, total, points).tolist()})


def subsets(total: int, sizes: list[int], seed: int = 0) -> list[torch.Tensor]:
    """A fresh random subset of each size (without replacement), as the authors shuffle."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(total, generator=g)[:n] for n in sizes]


def fid_infinity(
    real: GaussianStats, fake: torch.Tensor, points: int = INFINITY_POINTS, seed: int = 0
) -> FidInfinity:
    """FID-infinity of generated features `fake` (N, d) against real statistics."""
    sizes = subset_sizes(fake.shape[0], points)
    if len(sizes) < 3:
        raise ValueError(f"FID-infinity needs features for 3 subset sizes, got {fake.shape[0]}")
    fids = [
        frechet_distance(real, gaussian_stats(fake[index.to(fake.device)]))
        for index in subsets(fake.shape[0], sizes, seed)
    ]
    x = torch.tensor([1 / n for n in sizes], dtype=torch.float64)
    y = torch.tensor(fids, dtype=torch.float64)
    design = torch.stack([torch.ones_like(x), x], 1)
    intercept, slope = torch.linalg.lstsq(design, y[:, None]).solution[:, 0].tolist()
    return FidInfinity(intercept, slope, sizes, fids)


# --- FID as a suite metric -------------------------------------------------------------------


def frechet_score(key: str) -> FeatureScore:
    """The Fréchet distance of the features' Gaussians under `key` (FID, FD in any space)."""

    def score(real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple]:
        return {key: (frechet_distance(gaussian_stats(real), gaussian_stats(fake)), False)}

    return score


def _fid_infinity(key: str) -> FeatureScore:
    """FID-infinity, with the fit's points in the conditions (the report plots them)."""

    def score(real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple]:
        check_infinity_features(fake, "the generated images")
        fit = fid_infinity(gaussian_stats(real), fake)
        points = {"sizes": fit.sizes, "fids": fit.fids, "slope": fit.slope}
        return {f"{key}_infinity": (fit.value, False, {"fit": points})}

    return score


def _with_infinity(key: str, infinity: bool, *args: object) -> MetricFn:
    """FID, and with `infinity` FID-infinity on its own images from Sobol latents, as the
    authors draw them (an extra generation and embedding of `samples` images)."""
    measure = feature_metric(frechet_score(key), *args)
    if not infinity:
        return measure
    extrapolated = feature_metric(
        _fid_infinity(key), *args, latents="sobol", infinity_points=INFINITY_POINTS
    )
    return lambda ctx: {**measure(ctx), **extrapolated(ctx)}


@METRICS.register(
    "fid",
    requires={"images"},
    keys=("fid", "fid_infinity"),
    names={"fid": "FID", "fid_infinity": "FID∞"},
    report="ganbench.viz.curves:fid_infinity_pictures",
    rules=(INFINITY_RULE,),
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "real_split": "real_split",
        "preprocess": "preprocess",
    },
)
def fid(
    *,
    samples: int = 10000,
    real_split: str = "test",
    batch_size: int = 200,
    extractor: str = "inception",
    preprocess: str = "ttur",
    infinity: bool = False,
) -> MetricFn:
    """FID with the TTUR Inception (pool3), N generated vs N real images; `infinity`: also
    FID-infinity (Chong & Forsyth 2020), FID extrapolated to infinitely many samples."""
    return _with_infinity("fid", infinity, extractor, samples, real_split, batch_size, preprocess)


@METRICS.register(
    "fid-mnist",
    requires={"digits"},
    extractor="mnist-classifier",
    keys=("fid_mnist", "fid_mnist_infinity"),
    names={"fid_mnist": "FID, MNIST classifier", "fid_mnist_infinity": "FID∞, MNIST classifier"},
    report="ganbench.viz.curves:fid_infinity_pictures",
    rules=(INFINITY_RULE,),
    roles={"samples": "samples", "real_split": "real_split"},
)
def fid_mnist(
    *,
    samples: int = 10000,
    real_split: str = "test",
    batch_size: int = 1000,
    infinity: bool = False,
) -> MetricFn:
    """FID with ganbench's MNIST classifier features (128-d): cheap, for 28x28 digits;
    `infinity`: also FID-infinity on the same features."""
    return _with_infinity(
        "fid_mnist", infinity, "mnist-classifier", samples, real_split, batch_size
    )
