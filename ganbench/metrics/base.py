"""What every metric receives and returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ganbench.data.base import Dataset
from ganbench.data.images import to_uint8
from ganbench.errors import GanbenchError
from ganbench.features.base import Embedding, Extractor, embed
from ganbench.training.gan import GAN
from ganbench.training.record import TrainingRecord


@dataclass(frozen=True)
class Measurement:
    """One number with everything needed to compare it honestly with another.

    `settings` holds every choice that changes the value (sample count,
    thresholds, extractor and weights hash, ...): two measurements whose
    settings differ are not the same metric and are never compared silently.
    """

    value: float | None
    unit: str
    higher_is_better: bool
    settings: dict[str, Any] = field(default_factory=dict)
    #: How this value came about without making it another metric (steps timed, the
    #: machine's load, a sample cap): shown beside it and judged by `compare`, never
    #: required to be equal across seeds.
    conditions: dict[str, Any] = field(default_factory=dict)


class Score(float):
    """A metric's value (a float: print it, compare it, add to it) with what a result file
    records beside it: `key` ("fid", "kid", ...), `settings` (every choice that changes
    the number), `higher_is_better`, and `std` where the metric has a spread (KID's over
    subsets, the Inception Score's over splits); `details` holds a fit's points."""

    key: str
    settings: dict[str, Any]
    higher_is_better: bool
    std: float | None
    details: dict[str, Any]

    def __new__(
        cls,
        value: float,
        key: str,
        settings: dict[str, Any],
        higher_is_better: bool,
        std: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> Score:
        score = super().__new__(cls, value)
        score.key, score.settings, score.higher_is_better = key, settings, higher_is_better
        score.std, score.details = std, details or {}
        return score

    def __reduce__(self):
        args = (float(self), self.key, self.settings, self.higher_is_better, self.std)
        return Score, (*args, self.details)

    @classmethod
    def of(cls, key: str, measured: Measurement) -> Score:
        """A suite metric's Measurement as a Score (NaN where it was not measured, with the
        reason in settings["unavailable"])."""
        value = float("nan") if measured.value is None else measured.value
        return cls(
            value, key, measured.settings, measured.higher_is_better,
            details=dict(measured.conditions),
        )  # fmt: skip


@dataclass
class EvalContext:
    """A trained model and the data it was trained on, for one seed.

    Its metrics share work: the generated images of a sample count are drawn once, and
    each extractor embeds them once (features and logits together), so FID, KID, PRDC and
    IS of one job cost one generation and one pass per network. Sharing changes no value:
    every metric sees exactly the images and batches it would have produced alone."""

    gan: GAN
    data: Dataset
    #: None when measuring a generator ganbench did not train (ganbench eval, pytest plugin).
    training: TrainingRecord | None
    seed: int
    _shared: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def generated(self, n: int, latents: str = "random") -> torch.Tensor:
        """`n` generated images as uint8 (what saved images would hold), for this seed, on
        the generator's device: on a GPU they never go through the host. `latents`:
        "random" draws, or "sobol" (GAN.sobol_latents)."""
        key = ("generated", n) if latents == "random" else ("generated", n, latents)
        if key not in self._shared:
            self._shared[key] = to_uint8(
                finite(self.gan.sample(n, seed=self.seed, on_device=True, latents=latents))
            )
        return self._shared[key]

    def embedded(
        self, extractor: Extractor, n: int, batch_size: int, latents: str = "random"
    ) -> Embedding:
        """The extractor's features and logits of `generated(n, latents)`, in batches of
        `batch_size` (the batches are part of the key: they change float rounding), kept
        on the device, where the statistics are computed too."""
        key = (
            "embedded",
            extractor.name,
            json.dumps(extractor.settings, sort_keys=True),
            n,
            batch_size,
            latents,
        )
        if key not in self._shared:
            self._shared[key] = embed(
                extractor,
                self.generated(n, latents),
                batch_size,
                self.gan.device,
                f"{extractor.name}: generated images",
                keep_on_device=True,
            )
        return self._shared[key]


MetricFn = Callable[[EvalContext], dict[str, Measurement]]


def finite(samples: torch.Tensor) -> torch.Tensor:
    """`samples`, refused when any holds a NaN or an infinity: converted to pixels or
    measured as points, they would give a number (an all-NaN generator scored FID 799)
    that measures nothing."""
    broken = int((~torch.isfinite(samples)).flatten(1).any(1).sum())
    if broken:
        raise GanbenchError(
            f"the generator returned {broken} of {samples.shape[0]} samples with NaN or "
            "infinite values; ganbench measures finite samples only (is the generator's "
            "training diverged, or its output not bounded, e.g. by tanh?)"
        )
    return samples
