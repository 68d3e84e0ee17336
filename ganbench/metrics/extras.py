"""What a metric adds beyond its values, declared in its own module and registration.

The estimate, the job and the report ask the metric; none of them names one. A metric's
`ganbench_meta` (or `@METRICS.register(..., key=...)`) may name, as "module:function"
(resolved only when used, so `ls` and `validate` stay free of torch):

- `cost`: `function(params) -> int`, generator passes per seed beyond its samples'
  generation (the inversion's latent search), which the run's estimate adds;
- `caption`: `function(values) -> str | None`, a line for the samples picture's title
  from a job's measured values ({key: value});
- `report`: `function(MetricPictures) -> list[(Path, caption)]`, pictures for the run's
  report.html, drawn from the measured values and, where it needs one, the first seed's
  trained generator (None when its checkpoint is gone).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.registry import METRICS

HOOKS = ("cost", "caption", "report")


@dataclass(frozen=True)
class MetricPictures:
    """What a metric's report hook may draw from, for one (model, dataset)."""

    measured: dict[str, Any]  # this metric's keys -> MetricResult
    pictures: Path  # the run's pictures folder, where it saves its PNGs
    stem: str  # MODEL__DATASET, the start of its file names
    title: str  # "MODEL on DATASET"
    seed: int
    gan: Any = None  # the first seed's trained GAN, or None
    data: Any = None  # its dataset, or None


def hook(metric: str, name: str) -> Callable[..., Any] | None:
    """The metric's `name` hook, imported, or None when it declares none (or is unknown)."""
    if metric not in METRICS:
        return None
    spec = METRICS.get(metric).meta.get(name)
    if spec is None:
        return None
    module, _, function = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as e:
        raise GanbenchError(
            f"metric {metric!r}: its {name} hook {spec!r} cannot be loaded ({e})"
        ) from None


def metric_names(measured: dict[str, Any]) -> list[str]:
    """The metrics behind a pair's measured keys (results record each key's metric)."""
    return list(dict.fromkeys(m["metric"] for m in measured.values() if m.get("metric")))
