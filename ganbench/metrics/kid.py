"""Kernel Inception Distance.

Bińkowski, Sutherland, Arbel & Gretton 2018, "Demystifying MMD GANs": the
unbiased estimator of the squared MMD with the cubic polynomial kernel
k(x, y) = (x·y / d + 1)^3, averaged over random subsets (here, as in
torch-fidelity, 100 subsets of 1,000 samples each; smaller when fewer samples
are available, which is recorded in the settings). Unlike FID it is unbiased:
its expectation is 0 for samples from the same distribution.
"""

from __future__ import annotations

import torch

from ganbench.metrics.base import MetricFn
from ganbench.metrics.features import feature_metric
from ganbench.registry import METRICS


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between samples x (m, d) and y (n, d) with the cubic kernel."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float(
        (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
        + (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
        - 2 * k_xy.mean()
    )


def kid(
    real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int, seed: int = 0
) -> tuple[float, float]:
    """Mean and std of the unbiased MMD^2 over random subsets (without replacement)."""
    size = min(subset_size, real.shape[0], fake.shape[0])
    g = torch.Generator().manual_seed(seed)
    values = torch.tensor(
        [
            mmd2_unbiased(
                real[torch.randperm(real.shape[0], generator=g)[:size]].double(),
                fake[torch.randperm(fake.shape[0], generator=g)[:size]].double(),
            )
            for _ in range(subsets)
        ]
    )
    return float(values.mean()), float(values.std(unbiased=False))


@METRICS.register(
    "kid",
    requires={"images"},
    keys=("kid",),
    names={"kid": "KID"},
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "real_split": "real_split",
        "preprocess": "preprocess",
        "weights": "weights",
    },
)
def kid_metric(
    *,
    samples: int = 10000,
    subsets: int = 100,
    subset_size: int = 1000,
    real_split: str = "test",
    batch_size: int = 200,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
) -> MetricFn:
    """KID: unbiased cubic-kernel MMD^2 on Inception features, mean over subsets."""

    def score(real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple[float, bool]]:
        return {"kid": (kid(real, fake, subsets, subset_size)[0], False)}

    return feature_metric(
        score,
        extractor,
        samples,
        real_split,
        batch_size,
        preprocess,
        weights=weights,
        subsets=subsets,
        subset_size=subset_size,
    )
