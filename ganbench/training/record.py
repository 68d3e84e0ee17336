"""What a training run records about itself (stored in each job's fragment and in its
checkpoints): losses and discriminator signals at the logged steps, timing, memory, and
why a member diverged."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run is stopped and reported, the others go on."""


#: What TrainingRecord.signals holds, in the order _step stacks them.
SIGNALS = ("d_real", "d_fake", "grad_norm_d", "grad_norm_g")


@dataclass
class TrainingRecord:
    """What a training run measured about itself, stored in the result fragment."""

    steps: int
    batch_size: int
    device: str
    seconds: float = 0.0
    #: Steps and seconds inside the timed windows (after warm-up, checkpoints excluded),
    #: summed over the segments of a resumed run.
    timed_steps: int = 0
    timed_seconds: float = 0.0
    #: None when no step was timed (a run of a single step): no measurement, never 0.
    samples_per_second: float | None = None
    peak_memory_mib: float | None = None
    #: "cuda_max_allocated" on a GPU; on the CPU "job_peak_rss" (Linux: the process's peak
    #: resident set size since this job's training began) or "process_max_rss" (elsewhere).
    memory_kind: str = ""
    precision: str = "fp32"
    compiled: bool = False
    channels_last: bool = False
    resumed_from: int | None = None
    #: The 1-minute load average at the end of each timed window (the highest), the CPUs
    #: and torch threads: throughput measured on a busy machine is not comparable.
    load_average: float | None = None
    cpu_count: int = 0
    threads: int = 0
    #: Seeds trained together (training/ensemble.py); losses are then lists per step.
    ensemble: int = 1
    #: Per ensemble member: why it diverged, or None.
    diverged: list[str | None] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    loss_d: list = field(default_factory=list)
    loss_g: list = field(default_factory=list)
    #: At the same steps as the losses: the mean discriminator logit on real and on
    #: generated samples (D(x), D(G(z)) before the sigmoid, or critic values), and the L2
    #: norms of D's and G's gradients (SIGNALS); per member in an ensemble.
    signals: dict[str, list] = field(default_factory=dict)
    #: Metrics measured during training (TrainingOptions.eval_every): "steps", "seconds"
    #: (training time so far) and "values" {key: [value per evaluated step]}; an
    #: ensemble's holds one such dict per member under "members".
    evaluations: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.diverged:
            self.diverged = [None] * self.ensemble

    def to_dict(self) -> dict:
        return asdict(self)

    def members(self) -> list[TrainingRecord]:
        """One record per ensemble member: its own losses, and its share of the throughput
        (the ensemble's samples/s divided by the members; `ensemble` says how it was
        measured, so it is never compared with a single run's as if alike)."""
        if self.ensemble == 1:
            return [self]
        return [
            replace(
                self,
                samples_per_second=(
                    None
                    if self.samples_per_second is None
                    else self.samples_per_second / self.ensemble
                ),
                diverged=[self.diverged[i]],
                loss_d=[d[i] for d in self.loss_d],
                loss_g=[g[i] for g in self.loss_g],
                loss_steps=list(self.loss_steps),
                signals={k: [v[i] for v in values] for k, values in self.signals.items()},
                evaluations=(self.evaluations.get("members") or [{}] * self.ensemble)[i],
            )
            for i in range(self.ensemble)
        ]


def last_loss(series: list) -> float:
    """The last logged loss (averaged over ensemble members that have not diverged)."""
    last = series[-1] if series else math.nan
    if isinstance(last, list):
        finite = [v for v in last if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan
    return last


def log_losses(
    record: TrainingRecord,
    step: int,
    d_loss: torch.Tensor,
    g_loss: torch.Tensor,
    observed: torch.Tensor | None = None,
) -> None:
    d, g = d_loss.tolist(), g_loss.tolist()
    if observed is not None:
        for name, values in zip(SIGNALS, observed.tolist(), strict=True):
            record.signals.setdefault(name, []).append(values)
    if record.ensemble == 1:
        if not (math.isfinite(d) and math.isfinite(g)):
            raise TrainingDiverged(
                f"loss is not finite at step {step} "
                f"(D {d}, G {g}); lower the learning rate or check the data"
            )
    else:
        for i, (di, gi) in enumerate(zip(d, g, strict=True)):
            if not (math.isfinite(di) and math.isfinite(gi)) and record.diverged[i] is None:
                record.diverged[i] = (
                    f"loss is not finite at step {step} (D {di}, G {gi}); "
                    "lower the learning rate or check the data"
                )
    record.loss_steps.append(step)
    record.loss_d.append(d)
    record.loss_g.append(g)
