"""The Vendi score: diversity as one number, without a reference set.

Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine
Learning": for n samples and a similarity kernel with k(x, x) = 1, the exponential of the
Shannon entropy of the eigenvalues of K / n: the effective number of distinct samples (1
when all are alike, n when all are orthogonal). ganbench uses the authors' kernel for
embeddings, cosine similarity of an extractor's features, computed on the d x d dual
X^T X / n (the same non-zero eigenvalues as K / n) in float64. vendi-score 0.0.3's
`score_dual` is the reference (tests/test_vendi.py).
"""

from __future__ import annotations

import torch

from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device
from ganbench.registry import METRICS


def vendi_score(features: torch.Tensor) -> float:
    """exp(entropy of the eigenvalues of the cosine-similarity kernel / n)."""
    x = features.double()
    x = x / x.norm(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float64).tiny)
    eigenvalues = torch.linalg.eigvalsh(x.T @ x / x.shape[0])
    positive = eigenvalues[eigenvalues > 0]
    return float(torch.exp(-(positive * positive.log()).sum()))


@METRICS.register(
    "vendi",
    requires={"images"},
    keys=("vendi",),
    names={"vendi": "Vendi score"},
    roles={
        "samples": "samples",
        "extractor": "extractor",
        "preprocess": "preprocess",
        "weights": "weights",
    },
)
def vendi_metric(
    *,
    samples: int = 10000,
    batch_size: int = 200,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
) -> MetricFn:
    """Vendi score (Friedman & Dieng 2023) of N generated images: their effective number
    of distinct samples on an extractor's features (cosine kernel); no real images."""
    extractor_on = extractor_per_device(extractor, preprocess, weights)

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        net = extractor_on(ctx.gan.device)
        features = ctx.embedded(net, samples, batch_size).features
        settings = {**net.settings, "samples": samples, "kernel": "cosine"}
        return {"vendi": Measurement(vendi_score(features), "", True, settings)}

    return measure
