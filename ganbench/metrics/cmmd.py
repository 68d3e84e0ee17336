"""CMMD: the maximum mean discrepancy between CLIP embeddings of real and generated images.

Jayasumana, Ramalingam, Veit, Glasner, Chakrabarti & Kumar 2024, "Rethinking FID: Towards
a Better Evaluation Metric for Image Generation" (CVPR 2024; google-research/cmmd): FID
assumes Gaussian features and is biased by the sample count; CMMD is the squared MMD with
a Gaussian RBF kernel k(x, y) = exp(-||x - y||^2 / (2 sigma^2)), sigma = 10, over the
unit-length CLIP ViT-L/14@336px embeddings (features/clip.py), times 1000 "to make the
metric more human readable".

The estimator, as cmmd/distance.py (mmd, from line 31) computes it: the minimum-variance, biased
(V-statistic) estimate of Gretton et al. 2012, eq. 5, in which each kernel mean includes
the diagonal k(x, x) = 1. Its bias: for samples of sizes m and n its expectation is
MMD^2 + (1 - E k(x, x')) / m + (1 - E k(y, y')) / n (times 1000), positive even for two
samples of one distribution. Unit-length embeddings are at most 2 apart, so the bias is
at most 1000 (1 - exp(-4 / 200)) (1/m + 1/n): 0.004 at 10,000 images each, below the
differences the paper reports. `estimator = "unbiased"` leaves out the diagonals (the
U-statistic, as KID), whose expectation is MMD^2 itself.

Computed in float64 over blocks of rows (10,000 x 10,000 kernels do not fit memory);
tests/test_feature_spaces.py holds it to the clip-mmd package's `mmd` on the same
embeddings.
"""

from __future__ import annotations

import torch

from ganbench.features import clip
from ganbench.metrics.base import MetricFn
from ganbench.metrics.features import feature_metric
from ganbench.registry import METRICS

SIGMA = 10.0
SCALE = 1000.0
BLOCK_ROWS = 2048
ESTIMATORS = ("biased", "unbiased")


def kernel_sum(x: torch.Tensor, y: torch.Tensor, sigma: float = SIGMA) -> float:
    """The sum of exp(-||x_i - y_j||^2 / (2 sigma^2)) over all pairs, in row blocks, with
    the squared distance as cmmd writes it: |x|^2 + |y|^2 - 2 x.y."""
    gamma = 1 / (2 * sigma**2)
    y_norms = (y * y).sum(1)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS]
        distances = (block * block).sum(1)[:, None] + y_norms[None, :] - 2 * block @ y.T
        total += torch.exp(-gamma * distances).sum()
    return float(total)


def cmmd(
    x: torch.Tensor, y: torch.Tensor, sigma: float = SIGMA, estimator: str = "biased"
) -> float:
    """1000 x MMD^2 between embeddings x (m, d) and y (n, d) with the RBF kernel."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r}: valid: {', '.join(ESTIMATORS)}")
    x, y = x.double(), y.double()
    m, n = x.shape[0], y.shape[0]
    if estimator == "unbiased" and min(m, n) < 2:
        raise ValueError(
            f"the unbiased estimate leaves out each image's kernel with itself and needs "
            f"at least 2 images on each side, got {m} and {n}"
        )
    k_xx, k_yy, k_xy = kernel_sum(x, x, sigma), kernel_sum(y, y, sigma), kernel_sum(x, y, sigma)
    if estimator == "biased":
        value = k_xx / m**2 + k_yy / n**2 - 2 * k_xy / (m * n)
    else:  # the diagonal's k(x, x) = 1 left out
        value = (k_xx - m) / (m * (m - 1)) + (k_yy - n) / (n * (n - 1)) - 2 * k_xy / (m * n)
    return SCALE * value


@METRICS.register(
    "cmmd",
    requires={"images"},
    keys=("cmmd",),
    names={"cmmd": "CMMD"},
    choices={"extractor": tuple(clip.ARCHITECTURES), "estimator": ESTIMATORS},
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "real_split": "real_split",
        "weights": "weights",
    },
)
def cmmd_metric(
    *,
    extractor: str = "clip-vit-l14-336",
    samples: int = 10000,
    real_split: str = "test",
    batch_size: int = 50,
    estimator: str = "biased",
    weights: str = "",
) -> MetricFn:
    """CMMD (Jayasumana et al. 2024): 1000 x MMD^2, RBF kernel (sigma 10) on CLIP
    ViT-L/14@336px embeddings as google-research/cmmd computes it; needs CLIP's weights."""

    def score(real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple]:
        return {"cmmd": (cmmd(real, fake, SIGMA, estimator), False)}

    return feature_metric(
        score,
        extractor,
        samples,
        real_split,
        batch_size,
        weights=weights,
        sigma=SIGMA,
        scale=SCALE,
        estimator=estimator,
    )
