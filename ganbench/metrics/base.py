"""What every metric receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganbench.data.base import Dataset
from ganbench.training.gan import GAN
from ganbench.training.loop import TrainingRecord


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


@dataclass
class EvalContext:
    """A trained model and the data it was trained on, for one seed."""

    gan: GAN
    data: Dataset
    #: None when measuring a generator ganbench did not train (ganbench eval, pytest plugin).
    training: TrainingRecord | None
    seed: int


MetricFn = Callable[[EvalContext], dict[str, Measurement]]
