"""One group's work, wherever it runs (this process, a worker process, a Ray task): build
the GANs, train them, measure and draw each seed, and return one fragment per seed.
Imports only downward (plan), so that executors and Ray tasks can import it."""

from __future__ import annotations

import math
import os
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError, WriteFailed
from ganbench.formatting import say
from ganbench.metrics import extras
from ganbench.metrics.base import EvalContext, MetricFn
from ganbench.options import PROCEDURE
from ganbench.registry import METRICS, build_dataset, has_capability
from ganbench.results.files import (
    SCHEMA_VERSION,
    JobFragment,
    RunFolder,
)
from ganbench.run.during_training import Evaluator, threshold_measurements
from ganbench.run.plan import Job, checkpoint_stem
from ganbench.runtime.progress import LINES_ENV
from ganbench.suite import Budget, Component, Suite, evaluated_metrics, importable
from ganbench.training import TrainingDiverged, ensemble, train
from ganbench.training.build import build_model
from ganbench.training.checkpoint import save_generator
from ganbench.training.gan import GAN
from ganbench.training.record import TrainingRecord
from ganbench.training.timing import frozen_heap
from ganbench.viz.grid import save_grid
from ganbench.viz.mog import save_scatter

SCATTER_SAMPLES = 2500


GRID_SAMPLES = 64


@dataclass(frozen=True)
class RunSettings:
    """What every job of a run shares (picklable, for worker processes)."""

    suite: Suite
    budget: Budget
    device: torch.device
    run_dir: Path
    tensorboard: Path | None = None

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)


def save_samples_picture(data: Dataset, gan: GAN, seed: int, path: Path, title: str) -> None:
    """Points around modes: real vs generated scatter over the modes; images: a grid."""
    if has_capability(data, "modes"):
        real = data.real_samples(SCATTER_SAMPLES, seed + 1)
        save_scatter(data, real, gan.sample(SCATTER_SAMPLES, seed), path, title)
    elif len(data.sample_shape) == 3:
        save_grid(gan.sample(GRID_SAMPLES, seed), path)


def picture_title(job: Job, steps: int, measured: dict[str, Any]) -> str:
    """The samples picture's title, with a line from each metric that has a caption hook
    (mode coverage: modes covered and the high-quality share)."""
    title = f"{job.model.label} on {job.dataset.label}, seed {job.seed}, {steps} steps"
    values = {key: m["value"] for key, m in measured.items()}
    for metric in extras.metric_names(measured):
        caption = extras.hook(metric, "caption")
        if caption is not None and (line := caption(values)):
            title += f"\n{line}"
    return title


def new_fragment(job: Job) -> JobFragment:
    return JobFragment(
        schema_version=SCHEMA_VERSION,
        model=job.model.label,
        dataset=job.dataset.label,
        seed=job.seed,
        status="ok",
        error=None,
        measurements={},
        training=None,
    )


def check_model(model: Component, data: Dataset, dataset: str) -> None:
    """The factory contract, checked once per (model, dataset) before any training: the
    factory returns a GAN whose generator maps latents to the dataset's sample shape and
    whose discriminator gives one logit per (packed) example. One line per failure."""
    where = f"model {model.label!r} ({model.name}) on {dataset!r}"
    try:
        gan = build_model(model.name, data, model.params)
    except GanbenchError as e:
        raise GanbenchError(f"{where}: {str(e).split(': ', 1)[-1]}") from None
    except Exception as e:
        raise GanbenchError(f"{where}: the factory raised {type(e).__name__}: {e}") from None
    expected = (2 * gan.packing, *data.sample_shape)

    def run(network: str, call):
        try:
            with torch.no_grad():
                return call()
        except Exception as e:
            raise GanbenchError(
                f"{where}: the {network} failed on a batch of {expected[0]}: "
                f"{type(e).__name__}: {e}"
            ) from None

    gan.generator.eval()
    latents = gan.latents(expected[0], torch.Generator().manual_seed(0))
    fake = run("generator", lambda: gan.generator(latents))
    if tuple(fake.shape) != expected:
        raise GanbenchError(
            f"{where}: the generator returns shape {tuple(fake.shape)} for "
            f"{expected[0]} latents; the dataset needs {expected}"
        )
    logits = run("discriminator", lambda: gan.discriminator(fake))
    if tuple(logits.shape) != (2,):
        raise GanbenchError(
            f"{where}: the discriminator returns shape {tuple(logits.shape)} for 2 "
            "examples; it must return one logit per example, shape (2,)"
        )


def build_gan(job: Job, data: Dataset) -> GAN:
    torch.manual_seed(job.seed)  # weight init per seed, as a single run does it
    return build_model(job.model.name, data, job.model.params)


@dataclass
class GroupWork:
    """One model on one dataset, one seed or (ensemble) several seeds trained at once: the
    three steps of its work, each on its own (train, measure a member, draw a member)."""

    group: list[Job]
    data: Dataset
    metrics: dict[str, MetricFn]
    run: RunSettings
    label: str

    @property
    def folder(self) -> RunFolder:
        return self.run.folder

    @property
    def drawn(self) -> int | None:
        """The member whose samples are drawn: the run's first seed, if the group has it."""
        first = self.run.budget.seeds[0]
        return next((i for i, job in enumerate(self.group) if job.seed == first), None)

    def failed(self, error: str) -> list[JobFragment]:
        return [failed_fragment(job, self.label, error) for job in self.group]

    def train(self) -> tuple[GAN, TrainingRecord, Evaluator | None] | list[JobFragment]:
        """The trained GAN (stacked for an ensemble), its record and its evaluator; or, if
        training failed, one failed fragment per seed."""
        suite, budget, group = self.run.suite, self.run.budget, self.group
        try:
            gans = [build_gan(job, self.data) for job in group]
        except Exception as e:  # a user's factory that raises for this seed
            return self.failed(job_error(e))
        gan = gans[0] if len(gans) == 1 else ensemble.stack(gans)
        seeds = [job.seed for job in group]
        drawn = self.drawn

        def on_checkpoint(step: int) -> None:
            if drawn is not None and len(self.data.sample_shape) == 3 and step < budget.steps:
                member = ensemble.member(gan, drawn)
                save_grid(
                    member.sample(GRID_SAMPLES, group[drawn].seed),
                    self.folder.step_picture(group[drawn].name, step),
                )

        evaluator = None
        if suite.training.eval_every:
            evaluated = evaluated_metrics(suite.training, list(self.metrics))
            evaluator = Evaluator(
                gan,
                self.data,
                seeds,
                {name: self.metrics[name] for name in evaluated},
                [self.folder.best(job.name) for job in group],
            )
        try:
            record = train(
                gan,
                self.data,
                steps=budget.steps,
                batch_size=budget.batch_size,
                device=self.run.device,
                seed=seeds[0] if len(group) == 1 else seeds,
                options=suite.training,
                checkpoint=self.folder.checkpoint(checkpoint_stem(group)),
                on_checkpoint=on_checkpoint,
                on_evaluate=evaluator,
                label=self.label,
            )
        except TrainingDiverged as e:
            return self.failed(str(e))
        except WriteFailed:
            raise  # the run folder cannot take results: stop the run, not the job
        except Exception as e:  # a user's model, loss or data that raises: this group fails
            return self.failed(job_error(e))
        return gan, record, evaluator

    def measure(
        self, index: int, single: GAN, record: TrainingRecord, evaluator: Evaluator | None
    ) -> JobFragment:
        """Member `index`'s fragment: its record and every metric's measurements."""
        job, suite, budget = self.group[index], self.run.suite, self.run.budget
        fragment = new_fragment(job)
        if len(self.group) > 1:  # a per-seed checkpoint, as a single run leaves (report)
            save_generator(
                self.folder.checkpoint(job.name), single, budget.steps, discriminator=True
            )
        fragment["training"] = record.to_dict()
        ctx = (
            evaluator.context_at(budget.steps, single, index, record)
            if evaluator is not None
            else EvalContext(single, self.data, record, job.seed)
        )
        final = {name: measure(ctx) for name, measure in self.metrics.items()}
        if suite.training.steps_to:
            final["steps_to"] = threshold_measurements(
                record,
                suite.training.steps_to,
                suite.training.eval_every,
                {k: m for measured in final.values() for k, m in measured.items()},
            )
        caps = {
            c.name: cap
            for c in suite.metrics
            if (cap := budget.sample_cap(c.params, METRICS.get(c.name))) is not None
        }
        record_measurements(fragment, final, training_procedure(job.model.params), caps)
        return fragment

    def draw(self, index: int, single: GAN, fragment: JobFragment) -> None:
        """Member `index`'s samples picture, titled with its measurements."""
        job = self.group[index]
        title = picture_title(job, self.run.budget.steps, fragment["measurements"])
        path = self.folder.picture(job.model.label, job.dataset.label)
        save_samples_picture(self.data, single, job.seed, path, title)


def run_group(
    group: list[Job], data: Dataset, metrics: dict[str, MetricFn], run: RunSettings, label: str
) -> list[JobFragment]:
    """Trains one model on one dataset, one seed or (ensemble) several seeds at once,
    then measures and draws each seed; returns one fragment per seed."""
    work = GroupWork(group, data, metrics, run, label)
    trained = work.train()
    if isinstance(trained, list):
        return trained
    gan, record, evaluator = trained
    fragments = []
    for index, (job, member_record) in enumerate(zip(group, record.members(), strict=True)):
        member_label = f"{label} seed {job.seed}"
        if member_record.diverged[0]:
            fragments.append(failed_fragment(job, member_label, member_record.diverged[0]))
            continue
        single = ensemble.member(gan, index)
        try:
            fragment = work.measure(index, single, member_record, evaluator)
            if index == work.drawn:
                work.draw(index, single, fragment)
        except WriteFailed:
            raise
        except Exception as e:  # a metric that cannot measure this job (a tiny test split)
            fragment = failed_fragment(job, member_label, job_error(e))
        fragments.append(fragment)
    return fragments


def record_measurements(
    fragment: JobFragment,
    final: dict[str, dict[str, Any]],
    procedure: dict[str, Any],
    caps: dict[str, int],
) -> None:
    for metric_name, measured_metric in final.items():
        for key, m in measured_metric.items():
            measured = {"metric": metric_name, **asdict(m)}
            value = measured["value"]
            if isinstance(value, float) and not math.isfinite(value):  # as the file keeps it
                measured["value"] = None
                measured["conditions"] = {**m.conditions, "note": f"not a finite value ({value})"}
            if procedure:  # another loss (or EMA, ...) measures another thing
                measured["settings"] = {**measured["settings"], "training": procedure}
            if metric_name in caps:
                measured["conditions"] = {**measured["conditions"], "sample_cap": caps[metric_name]}
            fragment["measurements"][key] = measured


def job_error(e: BaseException) -> str:
    """One line for a job that raised: the exception and where (the innermost frame),
    enough to find a user's bug without a traceback that hides the run's table."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})"
    return f"{type(e).__name__}: {e}{where if frames else ''}"


def failed_fragment(job: Job, label: str, error: str) -> JobFragment:
    say(f"{label}: FAILED: {error}", file=sys.stderr)
    return {**new_fragment(job), "status": "failed", "error": error}


def training_procedure(params: dict[str, Any]) -> dict[str, Any]:
    """The model's training-procedure settings that differ from the defaults (so that runs
    with the default procedure keep the settings they always had)."""
    return {
        k: params[k]
        for k, (default, _) in PROCEDURE.items()
        if k in params and params[k] != default
    }


def build_metrics(suite: Suite, budget: Budget) -> dict[str, MetricFn]:
    metrics = {}
    for c in suite.metrics:
        entry = METRICS.get(c.name)
        metrics[c.name] = entry.factory(**budget.metric_params(c.params, entry))
    return metrics


def run_worker(group: list[Job], label: str, run: RunSettings, threads: int) -> list[JobFragment]:
    """One group in a worker process or Ray task: its own dataset, metrics and threads."""
    os.environ[LINES_ENV] = "1"
    torch.set_num_threads(threads)
    importable(run.suite.path.parent)  # a fresh interpreter: user modules beside the suite
    dataset = group[0].dataset
    data = build_dataset(dataset.name, dataset.params)
    with frozen_heap():
        return run_group(group, data, build_metrics(run.suite, run.budget), run, label)
