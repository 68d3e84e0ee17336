"""How long a run will take on this device, measured before it starts.

A budget written for a GPU can take days on a laptop; a user should learn that
in seconds, not after an hour. Training is timed on a few real steps of each
(model, dataset) group at the budget's batch size; evaluation from the rate at
which each metric's feature extractor embeds a small batch of images, times
the images the metrics will embed (generated ones per seed, real ones once).
Fixed costs (loading data, FID's matrix square root, pictures) are left out,
so the figure is a floor, and said to be "about".
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from ganbench.data.base import Dataset
from ganbench.metrics import extras
from ganbench.metrics.features import extractor_per_device
from ganbench.registry import EXTRACTORS, METRICS
from ganbench.runtime.conditions import busy
from ganbench.runtime.devices import device_words
from ganbench.suite import Budget, Component, Suite, evaluated_metrics
from ganbench.training import ensemble, train
from ganbench.training.gan import GAN

#: Steps timed per group: the loop's first step is warm-up and not timed. A cheap model
#: is probed again with twice the steps until its timed steps take PROBE_SECONDS / 2 (a
#: few milliseconds of steps would let one hiccup of the machine decide the estimate),
#: unless its whole training would take under ROUGH_ENOUGH_S: then the first figure does
#: (probing to the precision of "about 2 s" took longer than such a run's training).
PROBE_STEPS = 6
ROUGH_ENOUGH_S = 10.0
PROBE_MAX_STEPS = 400
PROBE_SECONDS = 0.5
PROBE_MAX_IMAGES = 1024


@dataclass(frozen=True)
class Group:
    """Jobs trained together: one seed, or (ensemble) several stacked."""

    model: Component
    dataset: Component
    members: int
    #: Steps its checkpoint already holds (a resumed job trains only the rest).
    done_steps: int = 0


@dataclass(frozen=True)
class Estimate:
    training_s: float
    evaluation_s: float
    #: How the figures were measured, for the user (rates, images).
    basis: str

    @property
    def total_s(self) -> float:
        return self.training_s + self.evaluation_s


def duration(seconds: float) -> str:
    """2 h 40 min, 12 min, 40 s: the precision an estimate has."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds / 60), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{max(round(seconds), 1)} s"


def seconds_per_step(
    build: Callable[[], GAN],
    data: Dataset,
    members: int,
    batch_size: int,
    device: torch.device,
    budget_steps: int,
) -> float:
    """Wall seconds per training step of a group, from PROBE_STEPS real steps on a
    throwaway copy (its progress lines are not shown), or more where the group's
    `budget_steps` make the figure matter."""
    steps = PROBE_STEPS
    while True:
        gans = [build() for _ in range(members)]
        gan = (gans[0] if members == 1 else ensemble.stack(gans)).to(device)
        seeds = list(range(members)) if members > 1 else 0
        with contextlib.redirect_stderr(io.StringIO()):
            record = train(
                gan,
                data,
                steps=steps,
                batch_size=batch_size,
                device=device,
                seed=seeds,
                log_points=1,
            )
        per_step = record.timed_seconds / record.timed_steps
        if (
            record.timed_seconds >= PROBE_SECONDS / 2
            or steps >= PROBE_MAX_STEPS
            or per_step * budget_steps < ROUGH_ENOUGH_S
        ):
            return per_step
        steps *= 2


@functools.cache
def images_per_second(
    extractor: tuple[str, str], sample_shape: tuple[int, ...], device: torch.device
) -> float:
    """The rate at which `extractor` (name, weights file) embeds images of `sample_shape`:
    batches double from 2 until one takes PROBE_SECONDS (small batches understate a small
    network's rate; the first call also pays for loading, and is not timed)."""
    name, weights = extractor
    if EXTRACTORS.get(name).meta.get("channels") == 1:  # stacked-mnist-modes: a channel each
        sample_shape = (1, *sample_shape[1:])
    extract = extractor_per_device(name, weights=weights)(device)
    batch, elapsed = 2, 0.0
    with torch.inference_mode():
        extract(torch.zeros((2, *sample_shape), dtype=torch.uint8, device=device))
        while elapsed < PROBE_SECONDS and batch < PROBE_MAX_IMAGES:
            batch *= 2
            images = torch.randint(0, 256, (batch, *sample_shape), dtype=torch.uint8)
            start = time.perf_counter()
            extract(images.to(device))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - start
    return batch / elapsed


def extractor_images(
    suite: Suite, budget: Budget, seeds: int, channels: int = 1, models: int | None = None
) -> dict[tuple[str, str], int]:
    """Images each extractor will embed for one dataset. Generated: each sample count once
    per job and evaluation, however many metrics use it (they share one pass,
    EvalContext.embedded), and once more per evaluation during training before the last
    step (which the final measurement shares). Real: each (count, split) that a feature
    metric's real_split names, once (cached on disk after the first run). A per-channel
    metric embeds each of a sample's `channels` as an image. `models` (default: the
    suite's) x `seeds` is the number of jobs: a shard of a job array runs fewer. Keyed by
    (extractor, its weights file as the metric names it)."""
    every = suite.training.eval_every
    during = evaluated_metrics(suite.training, [m.name for m in suite.metrics]) if every else []
    passes: dict[tuple[tuple[str, str], int], int] = {}
    real: set[tuple[tuple[str, str], int, str]] = set()
    for metric in suite.metrics:
        entry = METRICS.get(metric.name)
        params = {**entry.parameters(), **budget.metric_params(metric.params, entry)}
        name = entry.extractor(params)  # the roles its registration declares (registry.ROLES)
        if name is None:
            continue
        weights, split, counted = (entry.role(r) for r in ("weights", "real_split", "samples"))
        extractor = (name, params[weights] if weights else "")
        per_image = channels if entry.meta.get("per_channel") else 1
        samples = (params[counted] if counted else 0) * per_image
        times = 1 + ((budget.steps - 1) // every if metric.name in during else 0)
        passes[extractor, samples] = max(passes.get((extractor, samples), 0), times)
        if split:
            real.add((extractor, samples, params[split]))
    images: dict[tuple[str, str], int] = {}
    for (extractor, samples), times in passes.items():
        jobs = seeds * (len(suite.models) if models is None else models)
        images[extractor] = images.get(extractor, 0) + samples * jobs * times
    for extractor, samples, _ in real:
        images[extractor] += samples
    return images


def estimate(
    suite: Suite,
    groups: Iterable[Group],
    datasets: dict[str, Dataset],
    budget: Budget,
    device: torch.device,
    build: Callable[[Component, Dataset], GAN],
) -> tuple[Estimate, dict[tuple[str, str], float]]:
    """The run's estimate, and the measured seconds per step and member of each (model,
    dataset) label pair (to scale to another budget without measuring again)."""
    per_member: dict[tuple[str, str], float] = {}
    per_step: dict[tuple[str, str, int], float] = {}  # seeds of one pair cost alike: time once
    untimed: dict[tuple[str, str], str] = {}
    training = 0.0
    for group in groups:
        pair, data = (group.model.label, group.dataset.label), datasets[group.dataset.label]
        if (*pair, group.members) not in per_step:
            try:
                per_step[*pair, group.members] = seconds_per_step(
                    lambda g=group, d=data: build(g.model, d),
                    data,
                    group.members,
                    budget.batch_size,
                    device,
                    budget.steps,
                )
            except Exception as e:  # it diverges or raises: its job fails on its own, later
                untimed[pair] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                per_step[*pair, group.members] = 0.0
        if pair in untimed:
            continue
        step = per_step[*pair, group.members]
        per_member[pair] = step / group.members
        training += step * max(0, budget.steps - group.done_steps)
    jobs: dict[str, int] = {}
    for group in groups:
        jobs[group.dataset.label] = jobs.get(group.dataset.label, 0) + group.members
    evaluation, rates = evaluation_seconds(suite, datasets, budget, device, jobs)
    evaluation += search_seconds(suite, budget, per_member)
    basis = (
        ", ".join(f"{m}/{d} {s * 1000:.0f} ms/step" for (m, d), s in per_member.items())
        + "".join(f"; {m}/{d} not timed, its probe failed: {e}" for (m, d), e in untimed.items())
        + "".join(f"; {name} {rate:.0f} images/s" for name, rate in rates.items())
    )
    return Estimate(training, evaluation, basis), per_member


def evaluation_seconds(
    suite: Suite,
    datasets: dict[str, Dataset],
    budget: Budget,
    device: torch.device,
    jobs: dict[str, int] | None = None,
) -> tuple[float, dict[str, float]]:
    """The evaluation's seconds, from each extractor's measured rate; `jobs` per dataset
    label (a shard's own), else every model and seed of the budget."""
    seconds, rates = 0.0, {}
    for label, data in datasets.items():
        channels = data.sample_shape[0]
        if jobs is None:
            counts = extractor_images(suite, budget, len(budget.seeds), channels)
        else:
            counts = extractor_images(suite, budget, jobs.get(label, 0), channels, models=1)
        for extractor, images in counts.items():
            rate = images_per_second(extractor, data.sample_shape, device)
            rates[extractor[0]] = rate
            seconds += images / rate
    return seconds, rates


def scaled(
    suite: Suite,
    datasets: dict[str, Dataset],
    per_member: dict[tuple[str, str], float],
    measured: Budget,
    other: Budget,
    device: torch.device,
) -> float:
    """Another budget's time from the measured per-step costs: steps, seeds and batch
    size scale it linearly (an upper bound for small batches, which run below linear)."""
    training = sum(
        cost * other.steps * len(other.seeds) * other.batch_size / measured.batch_size
        for cost in per_member.values()
    )
    evaluation = evaluation_seconds(suite, datasets, other, device)[0]
    return training + evaluation + search_seconds(suite, other, per_member)


def search_seconds(suite: Suite, budget: Budget, per_member: dict[tuple[str, str], float]) -> float:
    """What metrics add beyond their samples (the inversion's latent search), as each
    declares it (its `cost` hook, metrics/extras.py): generator passes (forward and
    backward) per seed, each costed as one sample of a training step (which also runs
    the discriminator: an upper bound)."""
    passes = 0
    for metric in suite.metrics:
        cost = extras.hook(metric.name, "cost")
        if cost is not None:
            entry = METRICS.get(metric.name)
            params = {
                **entry.parameters(),
                **budget.metric_params(metric.params, entry),
            }
            passes += cost(params)
    return sum(
        passes * len(budget.seeds) * cost / budget.batch_size for cost in per_member.values()
    )


def machine_load() -> dict[str, float | int]:
    """The conditions busy() reads: the 1-minute load average and the CPUs."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not on every platform
        return {}
    return {"load_average": load, "cpu_count": os.cpu_count() or 1}


def announce(
    suite: Suite,
    groups: list[Group],
    datasets: dict[str, Dataset],
    budget: Budget,
    quick: Budget | None,
    device: torch.device,
    build: Callable[[Component, Dataset], GAN],
) -> str:
    """The lines `ganbench run` prints before training: the estimate for this run, what
    `--quick` and the suite's CPU budgets would take instead, and a warning when a budget
    sized for a GPU is about to run on a CPU. `quick` is None for a --quick run."""
    run, per_member = estimate(suite, groups, datasets, budget, device, build)
    where = device_words(device)
    lines = [
        f"estimate: about {duration(run.total_s)} on {where} (training "
        f"{duration(run.training_s)}, evaluation {duration(run.evaluation_s)}; {run.basis})"
    ]
    alternatives = {"--quick": quick} if quick is not None else {}
    alternatives |= {
        f"--budget {name}": b
        for name, b in suite.budgets.items()
        if b.sized_for == "cpu" and b != budget
    }
    cheaper = [
        f"{flag} takes about {duration(scaled(suite, datasets, per_member, budget, b, device))}"
        for flag, b in alternatives.items()
    ]
    if cheaper:
        lines[0] += "; " + ", ".join(cheaper)
    load = machine_load()
    if busy(load):
        lines.append(
            f"note: timed now at load {load['load_average']:.1f} on {load['cpu_count']} "
            "CPUs: other work shares them, so the estimate may be several times off (at "
            "load 4 on 2 CPUs it was 5-6x too low)"
        )
    if budget.sized_for == "gpu" and device.type == "cpu":
        lines.append(
            f"warning: this budget is sized for a GPU and takes about {duration(run.total_s)} "
            f"on {where}"
            + (
                f"; {' or '.join(alternatives)} {'fits' if len(alternatives) == 1 else 'fit'} a CPU"
                if alternatives
                else ""
            )
        )
    return "\n".join(lines)
