"""Inception Score.

Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen 2016, "Improved
Techniques for Training GANs": IS = exp(E_x KL(p(y|x) || p(y))), with p(y|x)
the softmax of the 2015-12-05 Inception's 1008 logits and p(y) its mean over
the samples. As in their code (openai/improved-gan) and torch-fidelity: the
logits have no bias, 50,000 samples are cut into 10 consecutive splits, and
the score is the mean ± (population) std of the per-split scores.

It exists only with the classifier layer, which pytorch-fid's weights file has
and the offline TorchScript lacks; without it the score is reported as
unavailable with the reason, never computed from another network under the
same name. "is-mnist" is the same formula on ganbench's MNIST classifier
(10 classes), the usual stand-in for IS on digits.
"""

from __future__ import annotations

import math

import torch

from ganbench.features.inception import CLASSIFIER_MISSING
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device
from ganbench.registry import METRICS


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and std over `splits` consecutive splits of exp(mean KL(p(y|x) || p(y)))."""
    n = logits.shape[0]
    if n < splits:
        raise ValueError(f"need at least {splits} samples for {splits} splits, got {n}")
    log_p = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = torch.logsumexp(part, dim=0) - math.log(part.shape[0])
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


def score_metric(
    key: str,
    extractor_name: str,
    samples: int,
    splits: int,
    batch_size: int,
    preprocess: str = "ttur",
) -> MetricFn:
    """IS of N generated images with an extractor's logits (measure() runs per job)."""
    extractor_on = extractor_per_device(extractor_name, preprocess)

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        extractor = extractor_on(ctx.gan.device)
        settings = {**extractor.settings, "samples": samples, "splits": splits}
        if extractor.has_classifier:
            settings["classifier_sha1"] = extractor.classifier_sha1()
            logits = ctx.embedded(extractor, samples, batch_size).logits
            mean, std = inception_score(logits, splits)
        else:
            mean = std = None
            settings["unavailable"] = CLASSIFIER_MISSING
        return {
            key: Measurement(mean, "", True, settings),
            f"{key}_std": Measurement(std, "", False, settings),
        }

    return measure


@METRICS.register(
    "is",
    requires={"images"},
    extractor="inception",
    keys=("inception_score", "inception_score_std"),
    names={"inception_score": "IS", "inception_score_std": "IS, std over splits"},
    auxiliary=("inception_score_std",),
    roles={"samples": "samples", "preprocess": "preprocess"},
)
def inception_score_metric(
    *, samples: int = 50000, splits: int = 10, batch_size: int = 200, preprocess: str = "ttur"
) -> MetricFn:
    """Inception Score (needs pytorch-fid's weights with the 1008-way classifier)."""
    return score_metric("inception_score", "inception", samples, splits, batch_size, preprocess)


@METRICS.register(
    "is-mnist",
    requires={"digits"},
    extractor="mnist-classifier",
    keys=("mnist_score", "mnist_score_std"),
    names={"mnist_score": "MNIST score", "mnist_score_std": "MNIST score, std over splits"},
    auxiliary=("mnist_score_std",),
    roles={"samples": "samples"},
)
def mnist_score_metric(
    *, samples: int = 10000, splits: int = 10, batch_size: int = 1000
) -> MetricFn:
    """The Inception Score formula on ganbench's MNIST classifier (10 classes, at most 10)."""
    return score_metric("mnist_score", "mnist-classifier", samples, splits, batch_size)
