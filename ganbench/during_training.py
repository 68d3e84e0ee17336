"""Metrics measured while a GAN trains: curves, the best step, and steps to a threshold.

A bad final FID does not say when quality went bad, or whether training was
still improving; a throughput does not say how long a model takes to become
good. Measuring the suite's own metrics every `eval_every` steps, on the same
fixed latents the final measurement uses, gives both: a metric-vs-step curve,
the best step (whose generator is kept beside the final one), and the first
evaluated step at which a metric reaches a threshold ("converges slowly" as a
number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganbench.data.base import Dataset
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.training.checkpoint import save_generator
from ganbench.training.gan import GAN
from ganbench.training.record import TrainingRecord


class Evaluator:
    """The training loop's `on_evaluate`: measures `metrics` on the generator as it is,
    appends to `record.evaluations`, and saves the generator when the first measurement
    is at its best so far.

    The context of the last evaluation is kept: at the final step it holds the images
    and features the final measurement needs, so measuring during training adds no work
    at the end."""

    def __init__(
        self, gan: GAN, data: Dataset, seed: int, metrics: dict[str, MetricFn], best: Path
    ) -> None:
        self.gan, self.data, self.seed, self.metrics, self.best_path = (
            gan,
            data,
            seed,
            metrics,
            best,
        )
        self.last: tuple[int, EvalContext] | None = None

    def __call__(self, step: int, record: TrainingRecord) -> None:
        ctx = EvalContext(self.gan, self.data, None, self.seed)
        measured: dict[str, Measurement] = {}
        for measure in self.metrics.values():
            measured.update(measure(ctx))
        self.last = (step, ctx)
        evaluations = record.evaluations
        evaluations.setdefault("steps", []).append(step)
        evaluations.setdefault("seconds", []).append(record.seconds)
        values = evaluations.setdefault("values", {})
        for key, m in measured.items():
            values.setdefault(key, []).append(m.value)
        evaluations["higher_is_better"] = {k: m.higher_is_better for k, m in measured.items()}
        if not measured:
            return
        key = next(iter(measured))
        index = best_index(values[key], measured[key].higher_is_better)
        if index == len(values[key]) - 1:
            save_generator(self.best_path, self.gan, step)
            evaluations["best"] = {
                "key": key,
                "step": step,
                "value": values[key][index],
                "checkpoint": self.best_path.name,
            }

    def context_at(self, step: int, record: TrainingRecord) -> EvalContext:
        """The final measurement's context: the last evaluation's (its generated images
        and features) when it was at this step, else a fresh one."""
        shared = self.last[1]._shared if self.last and self.last[0] == step else {}
        return EvalContext(self.gan, self.data, record, self.seed, shared)


def best_index(values: list[float | None], higher_is_better: bool) -> int | None:
    """The first index of the best value (None values skipped; None when there is none)."""
    indexed = [(v, i) for i, v in enumerate(values) if v is not None]
    if not indexed:
        return None
    best = max(indexed, key=lambda p: (p[0], -p[1])) if higher_is_better else min(indexed)
    return best[1]


def first_reaching(
    steps: list[int], values: list[float | None], threshold: float, higher_is_better: bool
) -> int | None:
    """The index of the first evaluation at which the metric reaches `threshold` (at or
    above it when higher is better, at or below otherwise), or None."""
    for i, value in enumerate(values):
        if value is not None and (value >= threshold if higher_is_better else value <= threshold):
            return i
    return None


def threshold_measurements(
    record: TrainingRecord,
    steps_to: dict[str, float],
    eval_every: int,
    final: dict[str, Measurement],
) -> dict[str, Measurement]:
    """steps_to_KEY and seconds_to_KEY (training seconds, evaluations excluded) for each
    threshold; None (n/a, with a note) when training never reached it."""
    evaluations = record.evaluations
    out = {}
    for key, threshold in steps_to.items():
        higher = evaluations["higher_is_better"][key]
        index = first_reaching(evaluations["steps"], evaluations["values"][key], threshold, higher)
        settings = {
            "of": key,
            "threshold": threshold,
            "eval_every": eval_every,
            "metric_settings": final[key].settings if key in final else {},
        }
        conditions: dict[str, Any] = {}
        if index is None:
            conditions["note"] = f"{key} did not reach {threshold} in {record.steps} steps"
        for name, unit, series in (
            ("steps_to", "steps", evaluations["steps"]),
            ("seconds_to", "s", evaluations["seconds"]),
        ):
            out[f"{name}_{key}"] = Measurement(
                None if index is None else float(series[index]),
                unit,
                False,
                settings,
                conditions,
            )
    return out
