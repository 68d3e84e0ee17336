"""Mode count on Stacked-MNIST.

Metz et al. 2017 (Unrolled GANs), Srivastava et al. 2017 (VEEGAN) and Lin et
al. 2018 (PacGAN): 26,000 generated images; each channel is classified by an
MNIST classifier (ganbench's own, 99.39% test accuracy); a mode is a digit
triple, and the report is the number of distinct triples seen (of 1,000) and
KL(histogram of triples || uniform over 1,000).
"""

from __future__ import annotations

import math

import torch

from ganbench.features.mnist_classifier import WEIGHTS, file_sha1
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device
from ganbench.registry import METRICS

MODES = 1000


def triples(images: torch.Tensor, classify, batch_size: int = 2000) -> torch.Tensor:
    """uint8 (N, 3, 28, 28) -> digit triples d1*100 + d2*10 + d3."""
    digits = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            batch = images[i : i + batch_size]
            per_channel = classify(batch.reshape(-1, 1, 28, 28)).argmax(1).view(-1, 3)
            digits.append(per_channel[:, 0] * 100 + per_channel[:, 1] * 10 + per_channel[:, 2])
    return torch.cat(digits)


def mode_statistics(modes: torch.Tensor) -> tuple[int, float]:
    """(distinct modes, KL(histogram || uniform over 1,000))."""
    counts = torch.bincount(modes.cpu(), minlength=MODES).double()
    p = counts[counts > 0] / counts.sum()
    return int((counts > 0).sum()), float((p * torch.log(p * MODES)).sum())


@METRICS.register(
    "stacked-mnist-modes",
    requires={"stacked-digits"},
    extractor="mnist-classifier",
    per_channel=True,  # each channel is embedded as an image of its own (run/estimate.py)
    keys=("stacked_modes", "stacked_kl"),
    names={"stacked_modes": "modes (of {modes:,})", "stacked_kl": "KL to uniform"},
    roles={"samples": "samples"},
)
def stacked_mnist_modes(*, samples: int = 26000) -> MetricFn:
    """Distinct digit triples (of 1,000) and KL to uniform, with the MNIST classifier."""
    extractor_on = extractor_per_device("mnist-classifier")
    settings = {
        "samples": samples,
        "classifier": "mnist-classifier",
        "weights_sha1": file_sha1(WEIGHTS),
        "modes": MODES,
        "kl_max": round(math.log(MODES), 4),
    }

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        images = ctx.generated(samples).to(ctx.gan.device)
        modes, kl = mode_statistics(triples(images, extractor_on(ctx.gan.device).logits))
        return {
            "stacked_modes": Measurement(modes, "modes", True, settings),
            "stacked_kl": Measurement(kl, "nats", False, settings),
        }

    return measure
