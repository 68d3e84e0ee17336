"""Mode coverage on mixtures of Gaussians.

Protocol of Metz et al. 2017 (Unrolled GANs), Srivastava et al. 2017 (VEEGAN)
and Lin et al. 2018 (PacGAN), as coded in PacGAN's MetricLogger: each
generated sample is assigned to its nearest mode; it is *high quality* when
it lies within `threshold_std` standard deviations of that mode's mean; a mode
is *covered* when at least `min_samples_per_mode` high-quality samples are
assigned to it (1 in PacGAN); the mode histogram of the high-quality samples
is compared with the uniform one by KL(histogram || uniform), PacGAN's
"reverse KL". The papers evaluate 2,500 samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganbench.metrics.base import EvalContext, Measurement, MetricFn, finite
from ganbench.registry import METRICS


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int
    high_quality_fraction: float
    #: None when no sample is of high quality: the histogram is then undefined.
    kl_to_uniform: float | None
    counts: list[int]


def mode_coverage(
    samples: torch.Tensor,
    means: torch.Tensor,
    std: float,
    threshold_std: float = 3.0,
    min_samples_per_mode: int = 1,
) -> ModeCoverage:
    """Scores 2-D `samples` (N, 2) against a mixture with `means` (K, 2) and shared `std`."""
    samples = samples.to(torch.float64)
    distances = torch.cdist(samples, means.to(torch.float64))
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance < threshold_std * std
    counts = torch.bincount(nearest_mode[high_quality], minlength=means.shape[0])
    total = int(counts.sum())
    kl = None
    if total:
        p = counts[counts > 0].to(torch.float64) / total
        kl = float((p * torch.log(p * means.shape[0])).sum())
    return ModeCoverage(
        modes_covered=int((counts >= min_samples_per_mode).sum()),
        high_quality_fraction=total / samples.shape[0],
        kl_to_uniform=kl,
        counts=counts.tolist(),
    )


MODES_COVERED, HIGH_QUALITY, KL_TO_UNIFORM = (
    "modes_covered",
    "high_quality_fraction",
    "kl_to_uniform",
)


def picture_caption(values: dict[str, float]) -> str | None:
    """The samples picture's title line: modes covered and the high-quality share."""
    if values.get(MODES_COVERED) is None or values.get(HIGH_QUALITY) is None:
        return None
    return f"{values[MODES_COVERED]} modes covered, {values[HIGH_QUALITY]:.0%} high quality"


@METRICS.register(
    "mode-coverage",
    requires={"modes"},
    keys=(MODES_COVERED, HIGH_QUALITY, KL_TO_UNIFORM),
    names={
        MODES_COVERED: "modes (of {num_modes})",
        HIGH_QUALITY: "high-quality share",
        KL_TO_UNIFORM: "KL to uniform",
    },
    caption="ganbench.metrics.mode_coverage:picture_caption",
    roles={"samples": "samples"},
)
def mode_coverage_metric(
    *, samples: int = 2500, threshold_std: float = 3.0, min_samples_per_mode: int = 1
) -> MetricFn:
    """Modes covered, high-quality fraction and KL of the mode histogram (PacGAN protocol)."""

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        data = ctx.data
        result = mode_coverage(
            finite(ctx.gan.sample(samples, seed=ctx.seed)),
            data.means,
            data.std,
            threshold_std,
            min_samples_per_mode,
        )
        settings = {
            "samples": samples,
            "threshold_std": threshold_std,
            "min_samples_per_mode": min_samples_per_mode,
            "num_modes": data.num_modes,
            "mode_std": data.std,
        }
        return {
            MODES_COVERED: Measurement(result.modes_covered, "modes", True, settings),
            HIGH_QUALITY: Measurement(result.high_quality_fraction, "fraction", True, settings),
            KL_TO_UNIFORM: Measurement(result.kl_to_uniform, "nats", False, settings),
        }

    return measure
