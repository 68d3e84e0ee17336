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
from ganbench.training import ensemble
from ganbench.training.checkpoint import save_generator
from ganbench.training.gan import GAN
from ganbench.training.record import TrainingRecord


class Evaluator:
    """The training loop's `on_evaluate`: measures `metrics` on the generator as it is,
    appends to the record's evaluations, and saves the generator when the first
    measurement is at its best so far.

    An ensemble (seeds trained as one batch) is measured member by member, each with its
    own seed and best checkpoint; its record keeps one evaluations dict per member under
    "members", which `TrainingRecord.members()` hands to each member's record.

    The context of the last evaluation is kept: at the final step it holds the images
    and features the final measurement needs, so measuring during training adds no work
    at the end."""

    def __init__(
        self,
        gan: GAN,
        data: Dataset,
        seeds: list[int],
        metrics: dict[str, MetricFn],
        best: list[Path],
    ) -> None:
        self.gan, self.data, self.seeds, self.metrics, self.best_paths = (
            gan,
            data,
            seeds,
            metrics,
            best,
        )
        self.last: tuple[int, list[EvalContext | None]] | None = None

    def __call__(self, step: int, record: TrainingRecord) -> None:
        if self.gan.ensemble == 1:
            self.last = (step, [self._evaluate(self.gan, 0, step, record, record.evaluations)])
            return
        members = record.evaluations.setdefault("members", [{} for _ in self.seeds])
        self.last = (
            step,
            [
                None  # a diverged member has nothing left to measure
                if record.diverged[i] is not None
                else self._evaluate(ensemble.member(self.gan, i), i, step, record, members[i])
                for i in range(len(self.seeds))
            ],
        )

    def _evaluate(
        self, gan: GAN, index: int, step: int, record: TrainingRecord, evaluations: dict
    ) -> EvalContext:
        ctx = EvalContext(gan, self.data, None, self.seeds[index])
        measured: dict[str, Measurement] = {}
        for measure in self.metrics.values():
            measured.update(measure(ctx))
        evaluations.setdefault("steps", []).append(step)
        evaluations.setdefault("seconds", []).append(record.seconds)
        values = evaluations.setdefault("values", {})
        for key, m in measured.items():
            values.setdefault(key, []).append(m.value)
        evaluations["higher_is_better"] = {k: m.higher_is_better for k, m in measured.items()}
        if not measured:
            return ctx
        key = next(iter(measured))
        best = best_index(values[key], measured[key].higher_is_better)
        if best == len(values[key]) - 1:
            save_generator(self.best_paths[index], gan, step)
            evaluations["best"] = {
                "key": key,
                "step": step,
                "value": values[key][best],
                "checkpoint": self.best_paths[index].name,
            }
        return ctx

    def context_at(self, step: int, gan: GAN, index: int, record: TrainingRecord) -> EvalContext:
        """Member `index`'s final context (`gan` is that member): the last evaluation's
        (its generated images and features) when it was at this step, else a fresh one."""
        last = self.last[1][index] if self.last and self.last[0] == step else None
        shared = last._shared if last is not None else {}
        return EvalContext(gan, self.data, record, self.seeds[index], shared)


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
