"""Precision, recall, density and coverage on k-nearest-neighbour manifolds.

Precision and recall: Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019,
"Improved Precision and Recall Metric for Assessing Generative Models" — a
generated sample is precise if it lies inside some real sample's k-NN ball,
and recall swaps the roles. Density and coverage: Naeem, Oh, Uh, Choi & Yoo
2020, "Reliable Fidelity and Diversity Metrics for Generative Models" —
density counts how many real balls hold each generated sample (divided by k;
1 in expectation for identical distributions), coverage is the fraction of
real balls that hold at least one generated sample (1 - 2^-k in the limit
for identical distributions). k = 5 as in Naeem et al.; distances are strict
(<), as in their `prdc` package.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganbench.metrics.base import MetricFn
from ganbench.metrics.features import feature_metric
from ganbench.registry import METRICS


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    if x.shape[0] <= k:
        raise ValueError(
            f"k = {k} nearest neighbours need more than {k} feature vectors, got {x.shape[0]}"
        )
    distances = torch.cdist(x, x)
    return distances.kthvalue(k + 1, dim=1).values  # the 1st is the point itself, at 0


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> PRDC:
    real, fake = real.double(), fake.double()
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    d = torch.cdist(real, fake)  # (real, fake)
    inside_real = d < real_radii[:, None]
    return PRDC(
        precision=inside_real.any(dim=0).double().mean().item(),
        recall=(d < fake_radii[None, :]).any(dim=1).double().mean().item(),
        density=inside_real.sum().item() / (k * fake.shape[0]),
        coverage=(d.min(dim=1).values < real_radii).double().mean().item(),
    )


@METRICS.register(
    "prdc",
    requires={"images"},
    keys=("precision", "recall", "density", "coverage"),
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "real_split": "real_split",
        "preprocess": "preprocess",
        "weights": "weights",
    },
)
def prdc_metric(
    *,
    samples: int = 10000,
    k: int = 5,
    real_split: str = "test",
    batch_size: int = 200,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
) -> MetricFn:
    """Precision/recall (Kynkäänniemi 2019) and density/coverage (Naeem 2020), k-NN."""

    def score(real: torch.Tensor, fake: torch.Tensor) -> dict[str, tuple[float, bool]]:
        r = prdc(real, fake, k)
        return {
            "precision": (r.precision, True),
            "recall": (r.recall, True),
            "density": (r.density, True),
            "coverage": (r.coverage, True),
        }

    return feature_metric(
        score, extractor, samples, real_split, batch_size, preprocess, weights=weights, k=k
    )
