"""Runs a suite: every (dataset, model, seed) is trained, measured and saved as a fragment.

Jobs are independent and each writes its own fragment, so an interrupted run
keeps what finished, `--resume` skips it (and continues an unfinished job
from its last checkpoint), and a cluster could run the jobs through its own
scheduler later without changing the result format.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import fnmatch
import math
import multiprocessing
import os
import platform
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganbench import (
    __version__,
    checks,
    conditions,
    estimate,
    protocol,
    ray_executor,
    references,
    run_lock,
    tables,
    tensorboard_events,
)
from ganbench.data.base import Dataset
from ganbench.data.mog import MixtureOfGaussians
from ganbench.during_training import Evaluator, threshold_measurements
from ganbench.errors import GanbenchError, RunInterrupted, WriteFailed
from ganbench.metrics.base import EvalContext, MetricFn
from ganbench.metrics.throughput import device_name
from ganbench.options import PROCEDURE, TrainingOptions
from ganbench.progress import LINES_ENV
from ganbench.registry import DATASETS, METRICS, build_model
from ganbench.results import (
    RESULT_FILE,
    SCHEMA_VERSION,
    JobFragment,
    aggregate,
    atomic_write_text,
    commit_info,
    job_name,
    load_fragment,
    load_result,
    machine_info,
    machine_slug,
    new_run_dir,
    pair_name,
    run_dirs,
    shared_run_dir,
    write_json,
)
from ganbench.suite import Budget, Component, Suite, evaluated_metrics, importable
from ganbench.training import TrainingDiverged, ensemble, train
from ganbench.training.gan import GAN
from ganbench.training.loop import frozen_heap, network_weights, save_state
from ganbench.viz.curves import save_loss_curves, save_metric_curves, save_signal_curves
from ganbench.viz.grid import save_grid
from ganbench.viz.mog import save_scatter

SCATTER_SAMPLES = 2500
GRID_SAMPLES = 64


@dataclass
class RunOutcome:
    run_dir: Path
    result: dict[str, Any]
    table: str
    check_outcomes: list[checks.CheckOutcome] = field(default_factory=list)
    verdicts: list[references.Verdict] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)
    skipped_jobs: int = 0
    seconds: float = 0.0
    #: Jobs of the run with no fragment yet (other shards' still running).
    missing_jobs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_jobs and all(o.passed for o in self.check_outcomes)

    @property
    def reproduced(self) -> bool:
        """Every reference reproduced (what --require-references asks for)."""
        return all(v.reproduced for v in self.verdicts)


@dataclass(frozen=True)
class Job:
    dataset: Component
    model: Component
    seed: int

    @property
    def name(self) -> str:
        return job_name(self.model.label, self.dataset.label, self.seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanbenchError(
            f"--device {name}: CUDA is not available here (torch {torch.__version__}); "
            "use --device cpu or --device auto"
        )
    return device


def find_resumable(
    results_dir: Path,
    suite: Suite,
    quick: bool,
    budget_name: str | None = None,
    only: tuple[str, ...] = (),
    seeds: tuple[int, ...] | None = None,
) -> Path | None:
    """The newest unfinished run of the same suite content, budget and seeds, if any."""
    for run_dir in reversed(run_dirs(results_dir)):
        path = run_dir / RESULT_FILE
        if not path.is_file():
            continue
        try:
            meta = load_result(path)
        except GanbenchError as e:
            print(f"ganbench: warning: skipped for --resume: {e}", file=sys.stderr)
            continue
        s = meta["suite"]
        same = (
            s.get("name"),
            s.get("hash"),
            s.get("quick"),
            s.get("budget_name"),
            s.get("only") or [],
            s.get("seeds"),
        )
        if s.get("run_id"):  # a job array's run: its shards resume it with its --run-id
            continue
        if same == (suite.name, suite.hash, quick, budget_name, list(only), seeds and list(seeds)):
            return None if meta.get("complete") else run_dir
    return None


def save_samples_picture(data: Dataset, gan: GAN, seed: int, path: Path, title: str) -> None:
    """MoG: real vs generated scatter over the modes; images: a grid of samples."""
    if isinstance(data, MixtureOfGaussians):
        real = data.real_samples(SCATTER_SAMPLES, seed + 1)
        save_scatter(data, real, gan.sample(SCATTER_SAMPLES, seed), path, title)
    elif len(data.sample_shape) == 3:
        save_grid(gan.sample(GRID_SAMPLES, seed), path)


def picture_title(job: Job, steps: int, measured: dict[str, Any]) -> str:
    title = f"{job.model.label} on {job.dataset.label}, seed {job.seed}, {steps} steps"
    if "modes_covered" in measured:
        title += (
            f"\n{measured['modes_covered']['value']} modes covered, "
            f"{measured['high_quality_fraction']['value']:.0%} high quality"
        )
    return title


def _fragment(job: Job) -> JobFragment:
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


def _build(job: Job, data: Dataset) -> GAN:
    torch.manual_seed(job.seed)  # weight init per seed, as a single run does it
    return build_model(job.model.name, data, job.model.params)


@dataclass(frozen=True)
class Executor:
    """Where a run's job groups train: in this process, in `workers` local processes
    (cores/workers torch threads each), or (kind "ray") as Ray tasks on a Ray started here
    or at `address`; `cpus`/`gpus` replace [training] job_cpus/job_gpus."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None
    cpus: int | None = None
    gpus: float | None = None

    def resources(self, training: TrainingOptions, device: torch.device) -> ray_executor.Resources:
        gpus = self.gpus if self.gpus is not None else training.job_gpus
        return ray_executor.Resources(
            self.cpus or training.job_cpus, gpus if device.type == "cuda" else 0.0
        )


@dataclass(frozen=True)
class RunSettings:
    """What every job of a run shares (picklable, for worker processes)."""

    suite: Suite
    budget: Budget
    device: torch.device
    run_dir: Path
    tensorboard: Path | None = None


def run_jobs(
    group: list[Job], data: Dataset, metrics: dict[str, MetricFn], run: RunSettings, label: str
) -> list[JobFragment]:
    """Trains one model on one dataset, one seed or (ensemble) several seeds at once,
    then measures and draws each seed; returns one fragment per seed."""
    suite, device, run_dir, budget = run.suite, run.device, run.run_dir, run.budget
    pictures = run_dir / "pictures"
    first = group[0]
    try:
        gans = [_build(job, data) for job in group]
    except Exception as e:  # a user's factory that raises for this seed
        return [_failed(job, label, job_error(e)) for job in group]
    gan = gans[0] if len(gans) == 1 else ensemble.stack(gans)
    seeds = [job.seed for job in group]
    drawn = next((i for i, job in enumerate(group) if job.seed == budget.seeds[0]), None)
    caps = {
        c.name: cap
        for c in suite.metrics
        if (cap := budget.sample_cap(c.params, METRICS.get(c.name).parameters())) is not None
    }

    def on_checkpoint(step: int) -> None:
        if drawn is not None and len(data.sample_shape) == 3 and step < budget.steps:
            save_grid(
                ensemble.member(gan, drawn).sample(GRID_SAMPLES, group[drawn].seed),
                pictures / f"{group[drawn].name}_step{step}.png",
            )

    stem = checkpoint_stem(group)
    evaluator = None
    if suite.training.eval_every:  # never an ensemble (suite.py refuses it)
        evaluated = evaluated_metrics(suite.training, list(metrics))
        evaluator = Evaluator(
            gan,
            data,
            first.seed,
            {name: metrics[name] for name in evaluated},
            run_dir / "checkpoints" / f"{first.name}_best.pt",
        )
    try:
        record = train(
            gan,
            data,
            steps=budget.steps,
            batch_size=budget.batch_size,
            device=device,
            seed=seeds[0] if len(group) == 1 else seeds,
            options=suite.training,
            checkpoint=run_dir / "checkpoints" / f"{stem}.pt",
            on_checkpoint=on_checkpoint,
            on_evaluate=evaluator,
            label=label,
        )
    except TrainingDiverged as e:
        return [_failed(job, label, str(e)) for job in group]
    except WriteFailed:
        raise  # the run folder cannot take results: stop the run, not the job
    except Exception as e:  # a user's model, loss or data that raises: this group fails
        return [_failed(job, label, job_error(e)) for job in group]
    fragments = []
    for index, (job, member_record) in enumerate(zip(group, record.members(), strict=True)):
        if member_record.diverged[0]:
            fragments.append(_failed(job, f"{label} seed {job.seed}", member_record.diverged[0]))
            continue
        fragment = _fragment(job)
        try:
            single = ensemble.member(gan, index)
            if len(group) > 1:  # a per-seed checkpoint, as a single run leaves (report)
                save_member_checkpoint(run_dir / "checkpoints" / f"{job.name}.pt", single, budget)
            fragment["training"] = member_record.to_dict()
            ctx = (
                evaluator.context_at(budget.steps, member_record)
                if evaluator is not None
                else EvalContext(single, data, member_record, job.seed)
            )
            final = {name: measure(ctx) for name, measure in metrics.items()}
            if suite.training.steps_to:
                final["steps_to"] = threshold_measurements(
                    member_record,
                    suite.training.steps_to,
                    suite.training.eval_every,
                    {k: m for measured in final.values() for k, m in measured.items()},
                )
            _record_measurements(fragment, final, training_procedure(job.model.params), caps)
            if index == drawn:
                title = picture_title(job, budget.steps, fragment["measurements"])
                path = pictures / f"{pair_name(job.model.label, job.dataset.label)}.png"
                save_samples_picture(data, single, job.seed, path, title)
        except WriteFailed:
            raise
        except Exception as e:  # a metric that cannot measure this job (a tiny test split)
            fragment = _failed(job, f"{label} seed {job.seed}", job_error(e))
        fragments.append(fragment)
    return fragments


def _record_measurements(
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


def _failed(job: Job, label: str, error: str) -> JobFragment:
    print(f"{label}: FAILED: {error}", file=sys.stderr)
    return {**_fragment(job), "status": "failed", "error": error}


def checkpoint_stem(group: list[Job]) -> str:
    first = group[0]
    return first.name if len(group) == 1 else f"{first.name}-ensemble-{len(group)}"


def resumed_files(run_dir: Path, group: list[Job]) -> dict[str, bytes]:
    """The files of the run folder a group continues from (its checkpoint and its best
    step's generator), for a task that runs elsewhere."""
    names = (f"{checkpoint_stem(group)}.pt", f"{group[0].name}_best.pt")
    paths = [run_dir / "checkpoints" / name for name in names]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in paths if p.is_file()}


def training_procedure(params: dict[str, Any]) -> dict[str, Any]:
    """The model's training-procedure settings that differ from the defaults (so that runs
    with the default procedure keep the settings they always had)."""
    return {
        k: params[k]
        for k, (default, _) in PROCEDURE.items()
        if k in params and params[k] != default
    }


def save_member_checkpoint(path: Path, gan: GAN, budget: Budget) -> None:
    save_state(path, {"step": budget.steps, **network_weights(gan)})


def build_metrics(suite: Suite, budget: Budget) -> dict[str, MetricFn]:
    metrics = {}
    for c in suite.metrics:
        entry = METRICS.get(c.name)
        metrics[c.name] = entry.factory(**budget.metric_params(c.params, entry.parameters()))
    return metrics


def run_worker(group: list[Job], label: str, run: RunSettings, threads: int) -> list[JobFragment]:
    """One group in a worker process or Ray task: its own dataset, metrics and threads."""
    os.environ[LINES_ENV] = "1"
    torch.set_num_threads(threads)
    importable(run.suite.path.parent)  # a fresh interpreter: user modules beside the suite
    dataset = group[0].dataset
    data = DATASETS.get(dataset.name).factory(**dataset.params)
    with frozen_heap():
        return run_jobs(group, data, build_metrics(run.suite, run.budget), run, label)


def job_threads(executor: Executor, run: RunSettings, tasks: int) -> int:
    """The torch threads each job trains with (what its throughput records): a Ray task's
    CPUs; in worker processes, the cores split so that workers x threads stays within
    them; else this process's."""
    if executor.kind == "ray":
        return executor.resources(run.suite.training, run.device).cpus
    if executor.workers > 1 and tasks > 1:
        return max(1, (os.cpu_count() or 1) // executor.workers)
    return torch.get_num_threads()


def _in_workers(
    tasks: list[tuple[list[Job], str]],
    run: RunSettings,
    workers: int,
    threads: int,
    salvaged: list[list[JobFragment]],
):
    """Runs the groups in `workers` processes of `threads` torch threads each; yields each
    group's fragments as it finishes (the driver alone writes the run folder).

    On Ctrl-C or SIGTERM the workers are stopped at once (SIGTERM, then SIGKILL after
    WORKER_GRACE_S): their checkpoints stay for --resume, and groups that finished but
    were not yet handed back go to `salvaged`, for the driver to keep."""
    print(f"{workers} worker processes, {threads} torch thread(s) each", file=sys.stderr)
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
    futures = [pool.submit(run_worker, group, label, run, threads) for group, label in tasks]
    handed: set[concurrent.futures.Future] = set()
    try:
        for future in concurrent.futures.as_completed(futures):
            handed.add(future)
            yield future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        salvaged.extend(
            f.result()
            for f in futures
            if f not in handed and f.done() and not f.cancelled() and f.exception() is None
        )
        _stop(list(pool._processes.values()))
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: Seconds a worker has to leave after SIGTERM before it is killed.
WORKER_GRACE_S = 10.0


def _stop(processes: list[multiprocessing.Process]) -> None:
    """Terminates worker processes, and kills those still there after WORKER_GRACE_S, so
    that none outlives the run (they would train on, holding memory, for nobody)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + WORKER_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _on_ray(tasks: list[tuple[list[Job], str]], run: RunSettings, executor: Executor):
    """The groups as Ray tasks (ray_executor), each sent its checkpoint to continue from."""
    resources = executor.resources(run.suite.training, run.device)
    specs = [
        ray_executor.TaskSpec(
            str(run.suite.path),
            run.suite.hash,
            run.budget,
            run.device.type,
            [(j.model.label, j.dataset.label, j.seed) for j in group],
            label,
            resources.cpus,
            resumed_files(run.run_dir, group),
        )
        for group, label in tasks
    ]
    return ray_executor.run_groups(specs, run.run_dir, resources, executor.address)


def job_groups(jobs: list[Job], finished: set[str], together: bool) -> list[list[Job]]:
    """The unfinished jobs, one per group, or (ensemble) one group per (dataset, model)."""
    todo = [j for j in jobs if j.name not in finished]
    if not together:
        return [[j] for j in todo]
    groups: dict[tuple[str, str], list[Job]] = {}
    for j in todo:
        groups.setdefault((j.dataset.label, j.model.label), []).append(j)
    return list(groups.values())


CURVES = ("loss_steps", "loss_d", "loss_g", "signals", "evaluations")


def loss_curves(fragments: list[JobFragment]) -> dict[str, dict[str, dict[str, Any]]]:
    """training[model][dataset][seed] = the finished jobs' CURVES: losses, discriminator
    signals and metrics measured during training."""
    curves: dict[str, dict[str, dict[str, Any]]] = {}
    for f in fragments:
        if f["training"]:
            curves.setdefault(f["model"], {}).setdefault(f["dataset"], {})[str(f["seed"])] = {
                key: f["training"].get(key, {}) for key in CURVES
            }
    return curves


def save_curves(curves: dict[str, dict[str, dict[str, Any]]], pictures: Path) -> None:
    """Per (model, dataset), every finished seed on each: the loss curves, the
    discriminator signals and the metric curves (when there are any)."""
    for model, datasets in curves.items():
        for dataset, per_seed in datasets.items():
            stem, title = pair_name(model, dataset), f"{model} on {dataset}"
            save_loss_curves(per_seed, pictures / f"{stem}_losses.png", title)
            if any(c["signals"] for c in per_seed.values()):
                save_signal_curves(per_seed, pictures / f"{stem}_signals.png", title)
            if any(c["evaluations"] for c in per_seed.values()):
                save_metric_curves(per_seed, pictures / f"{stem}_metrics.png", title)


def markdown_report(
    result: dict[str, Any],
    table: str,
    outcomes: list[checks.CheckOutcome],
    verdicts: list[references.Verdict],
) -> str:
    s, m, c = result["suite"], result["machine_info"], result["commit_info"]
    lines = [
        f"# {s['name']} — run {result['run']}{' (quick)' if s['quick'] else ''}"
        f"{f' (budget {b})' if (b := s.get('budget_name')) else ''}",
        "",
        f"- date: {result['datetime']}",
        f"- ganbench {result['ganbench_version']}, commit {c['id'][:8]}"
        f"{' (dirty)' if c['dirty'] else ''}",
        f"- machine: {m['gpu'] or m['cpu']}, torch {m['torch']}, device {m['device']}",
        f"- budget: {s['budget']['steps']} steps, batch {s['budget']['batch_size']}, "
        f"seeds {s['budget']['seeds']}; training {s['training']}",
        *[
            f"- resumed {r['datetime']} at commit {r['commit'][:8]} on {r['machine']}"
            + (f" (forced: {r['forced']})" if r["forced"] else "")
            for r in result.get("resumes", [])
        ],
        "",
        table,
        "",
        f"mean ± sample std over seeds; ↑ higher is better, ↓ lower is better; "
        f"{tables.units_line(result['results'])}.",
    ]
    if caveats := conditions.notes(result["results"]):
        lines += ["", *[f"- {line}" for line in caveats]]
    if outcomes:
        lines += ["", "## Checks", ""] + [f"- {o.line()}" for o in outcomes]
    if verdicts:
        lines += ["", "## Published references", "", references.markdown(verdicts)]
    return "\n".join(lines) + "\n"


def provenance(commit: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Which code on which kind of machine produced a job: kept in its fragment, so that a
    run resumed elsewhere can be told apart (and is refused, unless forced)."""
    return {
        "commit": commit["id"],
        "dirty": commit["dirty"],
        "machine": machine_slug(device),
        "node": platform.node(),
        "torch": torch.__version__,
    }


def resume_mismatch(header: dict[str, Any], here: dict[str, Any], run_dir: Path) -> str | None:
    """What differs between where a run started and where it would be resumed, or None."""
    started = {
        "commit": header["commit_info"]["id"],
        "machine": run_dir.parent.name,
        "torch": header["machine_info"].get("torch"),
    }
    diffs = [f"{k} {started[k]} -> {here[k]}" for k in started if started[k] != here[k]]
    return "; ".join(diffs) or None


def suite_jobs(suite: Suite, budget: Budget, only: tuple[str, ...]) -> list[Job]:
    """Every (dataset, model, seed) of the suite (only the pairs matching `only`), in the
    order shards count them."""
    jobs = [
        Job(d, m, seed)
        for d in suite.datasets
        for m in suite.models
        for seed in budget.seeds
        if not only or any(fnmatch.fnmatchcase(f"{m.label}/{d.label}", p) for p in only)
    ]
    if not jobs:
        raise GanbenchError(
            f"--only {' '.join(only)}: matches no MODEL/DATASET of suite {suite.name!r}; "
            f"pairs: {', '.join(f'{m.label}/{d.label}' for d in suite.datasets for m in suite.models)}"
        )
    return jobs


def _continue(
    header: dict[str, Any], here: dict[str, Any], run_dir: Path, force: bool, shard: bool
) -> None:
    """Checks that a run started elsewhere may be continued here, and records a resume (a
    shard joining its run is not one: each fragment records where it was made)."""
    mismatch = resume_mismatch(header, here, run_dir)
    if mismatch and not force:
        raise GanbenchError(
            f"{run_dir}: started elsewhere ({mismatch}); continuing it would mix their "
            "numbers in one result. Start a new run (without --resume or with another "
            "--run-id), or add --force to continue it anyway (recorded in result.json)"
        )
    if shard:
        return
    header.setdefault("resumes", []).append(
        {
            "datetime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **here,
            "forced": mismatch,
        }
    )


def run_suite(
    suite: Suite,
    *,
    quick: bool = False,
    results_dir: Path = Path("results"),
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    budget_name: str | None = None,
    only: tuple[str, ...] = (),
    executor: Executor = Executor(),
    seeds: tuple[int, ...] | None = None,
    tensorboard: Path | None = None,
    shard: tuple[int, int] | None = None,
    run_id: str | None = None,
) -> RunOutcome:
    """Trains and measures every job of `suite`, writing results as it goes; `seeds`
    replaces the budget's (a CI gate's rerun on fresh seeds). `force` resumes a run that
    another commit or machine started (recorded in the result). `tensorboard`: a folder
    for each finished job's TensorBoard events.

    `run_id` names a run that several processes (a job array) write into, each running
    the jobs of its `shard` (K, N): every N-th job from the K-th, in the suite's order. A
    shard reruns nothing that is finished (rerunning it with the same id resumes it), and
    the last one to finish completes the run (or `ganbench merge RUN` does)."""
    started = time.perf_counter()
    torch_device = resolve_device(device)
    budget = suite.budget_for(quick, budget_name, seeds)
    jobs = suite_jobs(suite, budget, only)
    mine = jobs[shard[0] :: shard[1]] if shard else jobs
    commit = commit_info(results_dir=results_dir)
    here = provenance(commit, torch_device)
    with contextlib.ExitStack() as stack:
        header = None
        if run_id is not None:
            run_dir = shared_run_dir(results_dir, here["machine"], commit["id"], suite.name, run_id)
            lock = f".lock-shard-{shard[0]}-of-{shard[1]}" if shard else run_lock.LOCK_FILE
            stack.enter_context(run_lock.locked(run_dir, lock))
            if (run_dir / RESULT_FILE).is_file():
                header = load_result(run_dir)
                _continue(header, here, run_dir, force, shard is not None)
        else:
            run_dir = (
                find_resumable(results_dir, suite, quick, budget_name, only, seeds)
                if resume
                else None
            )
            if run_dir is not None:
                stack.enter_context(run_lock.locked(run_dir))
                header = load_result(run_dir)
                _continue(header, here, run_dir, force, False)
            elif resume:
                print(
                    f"nothing to resume for suite {suite.name!r} in {results_dir}; "
                    "starting a new run",
                    file=sys.stderr,
                )
        finished = {
            j.name for j in jobs if run_dir and (run_dir / "jobs" / f"{j.name}.json").is_file()
        }
        # Load every dataset still needed before training anything: a missing one stops the
        # run before it spends an hour on the others.
        datasets = {
            c.label: DATASETS.get(c.name).factory(**c.params)
            for c in suite.datasets
            if any(j.dataset == c and j.name not in finished for j in mine)
        }
        for d in suite.datasets:
            for m in suite.models:
                if d.label in datasets and any(j.model == m and j.dataset == d for j in mine):
                    check_model(m, datasets[d.label], d.label)
        metrics = build_metrics(suite, budget)
        if run_dir is None:
            run_dir = new_run_dir(results_dir, here["machine"], commit["id"], suite.name)
            stack.enter_context(run_lock.locked(run_dir))
        if header is None:
            header = run_header(
                suite, budget, (quick, budget_name, only, seeds), run_dir, commit, torch_device
            )
            if run_id is not None:  # the shards' own: a plain --resume leaves it alone
                header["suite"]["run_id"] = run_id
        stack.enter_context(frozen_heap())
        try:
            return _execute(
                RunSettings(suite, budget, torch_device, run_dir, tensorboard),
                jobs,
                mine,
                finished,
                datasets,
                metrics,
                header,
                here,
                executor,
                started,
            )
        except WriteFailed as e:
            raise WriteFailed(
                f"{e}; finished jobs are kept in {run_dir}: free space (or make it "
                "writable) and run again with --resume"
            ) from None


def run_header(
    suite: Suite,
    budget: Budget,
    choice: tuple[bool, str | None, tuple[str, ...], tuple[int, ...] | None],
    run_dir: Path,
    commit: dict[str, Any],
    device: torch.device,
) -> dict[str, Any]:
    """What result.json says of a run before any job has finished (written at once, so
    that a run killed during its first job can be resumed). `choice`: the command line's
    --quick, --budget, --only and --seeds."""
    quick, budget_name, only, seeds = choice
    return {
        "schema_version": SCHEMA_VERSION,
        "ganbench_version": __version__,
        "run": run_dir.name[:4],
        "datetime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": False,
        "commit_info": commit,
        "machine_info": machine_info(device),
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "hash": suite.hash,
            "path": str(suite.path),
            "quick": quick,
            "budget_name": budget_name,
            # A run of part of the suite (--only): its table has only these pairs.
            "only": list(only),
            # --seeds: the budget's seeds replaced (None: the budget's own).
            "seeds": list(seeds) if seeds else None,
            "budget": asdict(budget),
            "training": asdict(suite.training),
            # What it takes to rebuild each network from its checkpoint (ganbench report).
            "components": {
                kind: {c.label: {**c.params, "name": c.name} for c in getattr(suite, kind)}
                for kind in ("models", "datasets")
            },
            # Every parameter's default and each component's definition version, so that
            # later versions compare this run by its effective protocol (protocol.py).
            **protocol.recorded(suite),
        },
        "jobs": {},
        "results": {},
    }


def _execute(
    run: RunSettings,
    jobs: list[Job],
    mine: list[Job],
    finished: set[str],
    datasets: dict[str, Dataset],
    metrics: dict[str, MetricFn],
    result: dict[str, Any],
    here: dict[str, Any],
    executor: Executor,
    started: float,
) -> RunOutcome:
    """Trains the unfinished jobs among `mine` (all of `jobs`, or a shard's share) in a
    run whose folder this process holds (locked), rewriting result.json after each; then,
    once every job of the run has its fragment, checks, verdicts and tables."""
    suite, budget, run_dir = run.suite, run.budget, run.run_dir
    s = result["suite"]
    print(
        f"ganbench {__version__}: suite {suite.name} v{suite.version}"
        f"{' --quick' if s['quick'] else ''}"
        f"{f' --budget {b}' if (b := s['budget_name']) else ''}"
        f"{f' shard {len(mine)} of {len(jobs)} jobs' if mine is not jobs else ''}"
        f" on {run.device}; writing {run_dir}",
        file=sys.stderr,
    )
    groups = job_groups(mine, finished, suite.training.ensemble)
    threads = job_threads(executor, run, len(groups))
    fragments: dict[str, JobFragment] = {}
    _load_fragments(run_dir, jobs, fragments)
    if groups:
        _check_threads(fragments, run, threads)  # before the estimate trains its probes
        print(
            estimate.announce(
                suite,
                [estimate.Group(g[0].model, g[0].dataset, len(g)) for g in groups],
                datasets,
                budget,
                None if s["quick"] else suite.budget_for(True),
                run.device,
                lambda model, data: build_model(model.name, data, model.params),
            ),
            file=sys.stderr,
        )
    sources = {name: getattr(d, "source", "generated") for name, d in datasets.items()}
    s.setdefault("datasets", {}).update(sources)

    def record(new: list[JobFragment]) -> None:
        for fragment in new:
            fragments[job_name(fragment["model"], fragment["dataset"], fragment["seed"])] = fragment
        _summarise(result, jobs, fragments)
        write_json(run_dir / RESULT_FILE, result)

    def keep(new: list[JobFragment]) -> None:
        """Writes a finished group's fragments (and events), then result.json."""
        for fragment in new:
            fragment["provenance"] = {
                **here,
                **fragment.get("provenance", {}),  # a Ray task's node
                "dataset_source": sources[fragment["dataset"]],
            }
            name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
            write_json(run_dir / "jobs" / f"{name}.json", fragment)
            events(fragment)
        record(new)

    def events(fragment: JobFragment) -> None:
        """The job's TensorBoard events; a failure to write them (a disk filled up) is a
        warning naming the job: the run's results matter more than its events."""
        if run.tensorboard is None:
            return
        try:
            drawn = fragment["seed"] == budget.seeds[0]
            tensorboard_events.write_job(fragment, run_dir, run.tensorboard, drawn)
        except OSError as e:
            name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
            print(
                f"ganbench: warning: no TensorBoard events for {name} in {run.tensorboard} "
                f"({e.strerror or e}); they are written again by the next --resume "
                "--tensorboard once there is room",
                file=sys.stderr,
            )

    if run.tensorboard is not None:  # jobs finished earlier (a --resume) whose events are missing
        for fragment in fragments.values():
            if not tensorboard_events.has_events(run.tensorboard, fragment):
                events(fragment)

    try:
        for job in mine:
            if job.name in finished:
                print(f"{job.name}: finished earlier, skipped", file=sys.stderr)
        record([])  # the header: a run killed in its first job is found by --resume
        tasks = [
            (
                group,
                f"[{index}/{len(groups)}] {group[0].model.label} {group[0].dataset.label} "
                f"s{','.join(str(j.seed) for j in group)}",
            )
            for index, group in enumerate(groups, start=1)
        ]
        salvaged: list[list[JobFragment]] = []
        if executor.kind == "ray" and tasks:
            completed = _on_ray(tasks, run, executor)
        elif executor.workers > 1 and len(tasks) > 1:
            completed = _in_workers(tasks, run, executor.workers, threads, salvaged)
        else:
            completed = (
                run_jobs(group, datasets[group[0].dataset.label], metrics, run, label)
                for group, label in tasks
            )
        with contextlib.closing(completed):  # Ctrl-C: cancels what runs elsewhere
            for new in completed:
                keep(new)
    except KeyboardInterrupt:
        for new in salvaged:  # finished in a worker as the run was interrupted
            keep(new)
        raise RunInterrupted(run_dir, len(fragments), len(jobs)) from None
    _load_fragments(run_dir, jobs, fragments)  # other shards' jobs finished meanwhile
    missing = [j.name for j in jobs if j.name not in fragments]
    if missing:
        record([])
        return RunOutcome(
            run_dir,
            result,
            tables.render(result["results"], "terminal"),
            failed_jobs=list(result["jobs"]["failed"]),
            skipped_jobs=len(finished),
            seconds=time.perf_counter() - started,
            missing_jobs=missing,
        )
    outcome = _finish(suite, budget, run_dir, jobs, fragments, result)
    outcome.skipped_jobs, outcome.seconds = len(finished), time.perf_counter() - started
    return outcome


def _check_threads(fragments: dict[str, JobFragment], run: RunSettings, threads: int) -> None:
    """Refuses, before any training, to continue a run whose finished jobs were timed on
    another number of torch threads: a job timed here would not aggregate with them, and
    once its fragment is written the run could not be finished on any thread count."""
    planned = device_name(str(run.device), threads)
    for name, fragment in fragments.items():
        for measurement in fragment.get("measurements", {}).values():
            theirs = measurement.get("settings", {}).get("device", planned)
            if theirs != planned and (counted := re.search(r" x(\d+) threads$", theirs)):
                wanted = counted.group(1)
                raise GanbenchError(
                    f"{run.run_dir}: job {name} was timed on {theirs!r}, and the jobs left "
                    f"would train on {planned!r}; continue with {wanted} torch thread(s) per "
                    f"job (OMP_NUM_THREADS={wanted}, --workers giving {wanted} each, or "
                    f"--job-cpus {wanted} with --executor ray), or re-run without --resume"
                )


def _load_fragments(run_dir: Path, jobs: list[Job], fragments: dict[str, JobFragment]) -> None:
    """Adds the fragments on disk of `jobs` not yet in `fragments` (finished earlier, or by
    another shard)."""
    for job in jobs:
        path = run_dir / "jobs" / f"{job.name}.json"
        if job.name not in fragments and path.is_file():
            fragments[job.name] = load_fragment(path)


def _summarise(result: dict[str, Any], jobs: list[Job], fragments: dict[str, JobFragment]) -> None:
    """result.json's jobs, results, curves and dataset sources, from the fragments."""
    done = [fragments[j.name] for j in jobs if j.name in fragments]  # the suite's order
    result["jobs"] = {
        "total": len(jobs),
        "finished": len(done),
        "failed": {
            job_name(f["model"], f["dataset"], f["seed"]): f["error"]
            for f in done
            if f["status"] != "ok"
        },
    }
    result["results"] = aggregate(done)
    result["training"] = loss_curves(done)
    sources = result["suite"].setdefault("datasets", {})
    for f in done:  # each shard loaded only its own datasets
        if (source := f.get("provenance", {}).get("dataset_source")) is not None:
            sources.setdefault(f["dataset"], source)


def _finish(
    suite: Suite,
    budget: Budget,
    run_dir: Path,
    jobs: list[Job],
    fragments: dict[str, JobFragment],
    result: dict[str, Any],
) -> RunOutcome:
    """Completes a run whose every job has a fragment: pictures of the curves, checks,
    verdicts, result.json and table.md."""
    _summarise(result, jobs, fragments)
    save_curves(result["training"], run_dir / "pictures")
    outcomes = checks.evaluate(suite.checks if budget.checks else (), result["results"])
    ran = {(j.model.label, j.dataset.label) for j in jobs}  # --only leaves pairs out
    verdicts = references.evaluate(
        tuple(r for r in suite.references if (r.model, r.dataset) in ran), result["results"]
    )
    result["complete"] = True
    result["checks"] = [o.to_dict() for o in outcomes]
    result["references"] = [v.to_dict() for v in verdicts]
    write_json(run_dir / RESULT_FILE, result)
    failed = failed_pairs(list(fragments.values()), result["results"])
    table = tables.render(result["results"], "terminal", failed)
    report = markdown_report(
        result, tables.render(result["results"], "md", failed), outcomes, verdicts
    )
    atomic_write_text(run_dir / "table.md", report)
    return RunOutcome(run_dir, result, table, outcomes, verdicts, list(result["jobs"]["failed"]))


def merge_run(run_dir: Path) -> RunOutcome:
    """`ganbench merge RUN`: completes a run whose jobs ran elsewhere (the shards of a job
    array) from its fragments, or says which jobs are missing."""
    from ganbench.suite import load

    started = time.perf_counter()
    result = load_result(run_dir)
    s = result["suite"]
    suite = load(s["path"])
    if suite.hash != s["hash"]:
        raise GanbenchError(
            f"{s['path']}: changed since run {result['run']} started (suite hash {suite.hash} "
            f"vs {s['hash']}); merge with the suite file the run was made with"
        )
    budget = suite.budget_for(s["quick"], s["budget_name"], s.get("seeds"))
    jobs = suite_jobs(suite, budget, tuple(s.get("only") or ()))
    with run_lock.locked(run_dir):
        fragments: dict[str, JobFragment] = {}
        _load_fragments(run_dir, jobs, fragments)
        missing = [j.name for j in jobs if j.name not in fragments]
        if missing:
            raise GanbenchError(
                f"{run_dir}: {len(missing)} of {len(jobs)} jobs have no fragment yet: "
                f"{', '.join(missing)}; run their shards (the same --shard and --run-id "
                "resume a shard), then merge again"
            )
        outcome = _finish(suite, budget, run_dir, jobs, fragments, result)
    outcome.seconds = time.perf_counter() - started
    return outcome


def failed_pairs(fragments: list[JobFragment], results: dict[str, Any]) -> list[tuple[str, str]]:
    """(model, dataset) pairs of which no seed finished: a FAILED row in the tables."""
    failed = (
        (f["model"], f["dataset"])
        for f in fragments
        if f["status"] != "ok" and f["dataset"] not in results.get(f["model"], {})
    )
    return list(dict.fromkeys(failed))
