"""Perceptual path length, on ganbench's MNIST classifier.

Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks" (section 4.1): how abruptly the generated image changes
along latent paths,

    PPL = E[ d(G(slerp(z1, z2, t)), G(slerp(z1, z2, t + eps))) / eps^2 ],  t ~ U(0, 1),

with eps = 1e-4, paths in Z spherical, and the values outside the 1st-99th
percentiles dropped (their code). A smooth latent space has a short path; a
generator with discontinuities (or one that collapses many latents onto a few
images and then jumps) has a long one.

The paper's d is LPIPS on VGG16 features, which needs weights no package here
ships; d here is the squared Euclidean distance between the 128-d features of
ganbench's MNIST classifier. The values are therefore NOT comparable with the
paper's PPL, only with each other. The images are not quantised to uint8 (a
change of 1e-4 would vanish) and everything runs in float64, so that the finite
difference measures the generator and not rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device
from ganbench.registry import METRICS
from ganbench.training.interpolation import lerp, slerp

INTERPOLATIONS = {"slerp": slerp, "lerp": lerp}
#: Path latents are drawn from their own stream, not the one the samples use.
PATH_SEED_OFFSET = 7_919


def path_lengths(
    generate: Callable[[torch.Tensor], torch.Tensor],
    features: Callable[[torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    t: torch.Tensor,
    epsilon: float,
    interpolation: str = "slerp",
) -> torch.Tensor:
    """Per path: d(G(z(t)), G(z(t + eps))) / eps^2, d the squared Euclidean distance
    between `features` of the two images."""
    path = INTERPOLATIONS[interpolation]
    t = t[:, None]
    near, far = path(a, b, t), path(a, b, t + epsilon)
    difference = features(generate(near)) - features(generate(far))
    return difference.flatten(1).square().sum(1) / epsilon**2


def trimmed_mean(values: torch.Tensor, trim: float) -> float:
    """The mean of the values between the `trim` and 1 - `trim` quantiles (inclusive)."""
    if trim:
        low, high = torch.quantile(values, torch.tensor([trim, 1 - trim], dtype=values.dtype))
        values = values[(values >= low) & (values <= high)]
    return float(values.mean())


@METRICS.register(
    "ppl-mnist",
    requires={"digits"},
    extractor="mnist-classifier",
    keys=("ppl_mnist",),
    names={"ppl_mnist": "PPL, MNIST classifier"},
    choices={"interpolation": tuple(INTERPOLATIONS)},
    roles={"samples": "samples"},
)
def ppl_mnist(
    *,
    samples: int = 10000,
    epsilon: float = 1e-4,
    interpolation: str = "slerp",
    trim: float = 0.01,
    batch_size: int = 1000,
) -> MetricFn:
    """Perceptual path length in Z on MNIST classifier features (not VGG/LPIPS)."""
    extractor_on = extractor_per_device("mnist-classifier")

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        device, gan = ctx.gan.device, ctx.gan
        generator = copy.deepcopy(gan.ema_generator or gan.generator).double().eval()
        classifier = copy.deepcopy(extractor_on(device).model).double()
        rng = torch.Generator(device=device).manual_seed(ctx.seed + PATH_SEED_OFFSET)

        def to_pixels(latents: torch.Tensor) -> torch.Tensor:
            return ((generator(latents).double() + 1) * 127.5).clamp(0, 255)

        lengths = []
        with torch.inference_mode():
            for start in range(0, samples, batch_size):
                n = min(batch_size, samples - start)
                a, b = (gan.latents(n, rng).double() for _ in range(2))
                t = torch.rand(n, generator=rng, device=device, dtype=torch.float64)
                lengths.append(
                    path_lengths(to_pixels, classifier.features, a, b, t, epsilon, interpolation)
                )
        settings = {
            **extractor_on(device).settings,
            "samples": samples,
            "epsilon": epsilon,
            "interpolation": interpolation,
            "space": "z",
            "trim": trim,
            "distance": "squared L2 of mnist-classifier features (not LPIPS)",
            "precision": "float64",
        }
        value = trimmed_mean(torch.cat(lengths).cpu(), trim)
        return {"ppl_mnist": Measurement(value, "", False, settings)}

    return measure
