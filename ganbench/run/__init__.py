"""Runs a suite: plan its jobs, find or start its run folder, train each group where the
executor says, keep each fragment as it arrives, and finish the run when every job has
one. Each (dataset, model, seed) is independent: an interrupted run keeps what finished
and `--resume` continues it; shards and Ray tasks write the same fragments."""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench import __version__
from ganbench.data.base import Dataset
from ganbench.errors import RunInterrupted, WriteFailed
from ganbench.formatting import say, warn
from ganbench.metrics.base import MetricFn
from ganbench.publishing import tables
from ganbench.registry import build_dataset
from ganbench.results.files import JobFragment, RunFolder, commit_info, job_name
from ganbench.results.store import ResultsStore, RunRequest
from ganbench.run import estimate, tensorboard_events
from ganbench.run.executors import (
    ExecutorConfig,
    check_threads,
    in_workers,
    job_threads,
    on_ray,
)
from ganbench.run.finish import RunOutcome, finish_run, summarise
from ganbench.run.header import provenance, run_header
from ganbench.run.job import RunSettings, build_metrics, check_model, run_group
from ganbench.run.plan import Job, checkpoint_stem, job_groups, suite_jobs
from ganbench.runtime.devices import resolve_device
from ganbench.suite import Suite
from ganbench.training.build import build_model
from ganbench.training.checkpoint import read_checkpoint
from ganbench.training.timing import frozen_heap


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
    executor: ExecutorConfig = ExecutorConfig(),
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
    choice = (quick, budget_name, only, seeds)
    request = RunRequest(suite.name, suite.hash, *choice, resume, force, run_id, shard)
    store = ResultsStore(results_dir)
    with store.open_run(request, here, [j.name for j in jobs]) as opened:
        datasets = _datasets_needed(suite, mine, set(opened.fragments))
        metrics = build_metrics(suite, budget)
        folder = opened.folder
        header = opened.result or run_header(
            suite, budget, choice, folder.run, commit, torch_device, run_id
        )
        with frozen_heap():
            state = RunState(
                RunSettings(suite, budget, torch_device, folder.path, tensorboard),
                jobs,
                mine,
                set(opened.fragments),
                datasets,
                metrics,
                header,
                here,
                started,
                dict(opened.fragments),
            )
            return execute(state, executor)


def _datasets_needed(suite: Suite, mine: list[Job], finished: set[str]) -> dict[str, Dataset]:
    """Every dataset still needed, loaded, and every model's factory checked on it, before
    training anything: a missing one stops the run before it spends an hour on the others."""
    datasets = {
        c.label: build_dataset(c.name, c.params)
        for c in suite.datasets
        if any(j.dataset == c and j.name not in finished for j in mine)
    }
    for d in suite.datasets:
        for m in suite.models:
            if d.label in datasets and any(j.model == m and j.dataset == d for j in mine):
                check_model(m, datasets[d.label], d.label)
    return datasets


@dataclass
class RunState:
    """What this process knows of its run as it goes: every job of the run and its own
    share (a shard's), what finished before, the loaded datasets and metrics, result.json
    as it is rewritten, where this process runs, and the fragments so far."""

    run: RunSettings
    jobs: list[Job]
    mine: list[Job]
    finished: set[str]
    datasets: dict[str, Dataset]
    metrics: dict[str, MetricFn]
    result: dict[str, Any]
    here: dict[str, Any]
    started: float
    fragments: dict[str, JobFragment] = field(default_factory=dict)

    @property
    def folder(self) -> RunFolder:
        return self.run.folder

    def record(self, new: list[JobFragment]) -> None:
        """Adds fragments to the run's results and rewrites result.json."""
        for fragment in new:
            name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
            self.fragments[name] = fragment
        summarise(self.result, self.jobs, self.fragments)
        self.folder.write_result(self.result)

    def keep(self, new: list[JobFragment]) -> None:
        """Writes a finished group's fragments (and events), then result.json."""
        sources = self.result["suite"]["datasets"]
        for fragment in new:
            fragment["provenance"] = {
                **self.here,
                **fragment.get("provenance", {}),  # a Ray task's node
                "dataset_source": sources[fragment["dataset"]],
            }
            self.folder.write_fragment(fragment)
            self.events(fragment)
        self.record(new)

    def events(self, fragment: JobFragment) -> None:
        """The job's TensorBoard events; a failure to write them (a disk filled up) is a
        warning naming the job: the run's results matter more than its events."""
        run = self.run
        if run.tensorboard is None:
            return
        try:
            drawn = fragment["seed"] == run.budget.seeds[0]
            tensorboard_events.write_job(fragment, run.run_dir, run.tensorboard, drawn)
        except OSError as e:
            name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
            warn(
                f"no TensorBoard events for {name} in {run.tensorboard} "
                f"({e.strerror or e}); they are written again by the next --resume "
                "--tensorboard once there is room"
            )


def execute(state: RunState, executor: ExecutorConfig) -> RunOutcome:
    """Trains the unfinished jobs of this process's share in a run whose folder it holds
    (locked), rewriting result.json after each; then, once every job of the run has its
    fragment, checks, verdicts and tables."""
    run, s = state.run, state.result["suite"]
    say(
        f"ganbench {__version__}: suite {run.suite.name} v{run.suite.version}"
        f"{' --quick' if s['quick'] else ''}"
        f"{f' --budget {b}' if (b := s['budget_name']) else ''}"
        f"{f' shard {len(state.mine)} of {len(state.jobs)} jobs' if state.mine is not state.jobs else ''}"
        f" on {run.device}; writing {run.run_dir}",
        file=sys.stderr,
    )
    groups = job_groups(state.mine, state.finished, run.suite.training.ensemble)
    threads = job_threads(executor, run, len(groups))
    if groups:
        check_threads(state.fragments, run, threads)  # before the estimate trains its probes
        print(_estimate(state, groups), file=sys.stderr)
    sources = {name: getattr(d, "source", "generated") for name, d in state.datasets.items()}
    s.setdefault("datasets", {}).update(sources)
    if run.tensorboard is not None:  # jobs finished earlier (a --resume) whose events are missing
        for fragment in state.fragments.values():
            if not tensorboard_events.has_events(run.tensorboard, fragment):
                state.events(fragment)
    for job in state.mine:
        if job.name in state.finished:
            say(f"{job.name}: finished earlier, skipped", file=sys.stderr)
    try:
        state.record([])  # the header: a run killed in its first job is found by --resume
        _train(state, groups, executor, threads)
        return _complete(state)
    except WriteFailed as e:
        raise WriteFailed(
            f"{e}; finished jobs are kept in {run.run_dir}: free space (or make it "
            "writable) and run again with --resume"
        ) from None


def _estimate(state: RunState, groups: list[list[Job]]) -> str:
    run = state.run
    return estimate.announce(
        run.suite,
        [
            estimate.Group(g[0].model, g[0].dataset, len(g), checkpoint_step(state, g))
            for g in groups
        ],
        state.datasets,
        run.budget,
        None if state.result["suite"]["quick"] else run.suite.budget_for(True),
        run.device,
        lambda model, data: build_model(model.name, data, model.params),
    )


def checkpoint_step(state: RunState, group: list[Job]) -> int:
    """The step a group's checkpoint holds (0 without one): a resumed job's estimate
    counts only the steps left."""
    path = state.folder.checkpoint(checkpoint_stem(group))
    return read_checkpoint(path)["step"] if path.is_file() else 0


def _train(
    state: RunState, groups: list[list[Job]], executor: ExecutorConfig, threads: int
) -> None:
    """Every group, where the executor says; each group's fragments kept as it finishes.
    Ctrl-C (or SIGTERM) keeps what finished and raises RunInterrupted."""
    run = state.run
    tasks = [
        (
            group,
            f"[{index}/{len(groups)}] {group[0].model.label} {group[0].dataset.label} "
            f"s{','.join(str(j.seed) for j in group)}",
        )
        for index, group in enumerate(groups, start=1)
    ]
    salvaged: list[list[JobFragment]] = []
    try:
        if executor.kind == "ray" and tasks:
            completed = on_ray(tasks, run, executor)
        elif executor.workers > 1 and len(tasks) > 1:
            completed = in_workers(tasks, run, executor.workers, threads, salvaged)
        else:
            completed = (
                run_group(group, state.datasets[group[0].dataset.label], state.metrics, run, label)
                for group, label in tasks
            )
        with contextlib.closing(completed):  # Ctrl-C: cancels what runs elsewhere
            for new in completed:
                state.keep(new)
    except KeyboardInterrupt:
        for new in salvaged:  # finished in a worker as the run was interrupted
            state.keep(new)
        raise RunInterrupted(run.run_dir, len(state.fragments), len(state.jobs)) from None


def _complete(state: RunState) -> RunOutcome:
    """The run finished if every job has its fragment (other shards' too); else this
    shard's outcome, naming the jobs still missing."""
    run = state.run
    missing = [j.name for j in state.jobs if j.name not in state.fragments]
    state.fragments |= state.folder.fragments(missing)  # other shards' finished meanwhile
    missing = [j.name for j in state.jobs if j.name not in state.fragments]
    if missing:
        state.record([])
        return RunOutcome(
            run.run_dir,
            state.result,
            tables.render(state.result["results"], "terminal"),
            failed_jobs=list(state.result["jobs"]["failed"]),
            skipped_jobs=len(state.finished),
            seconds=time.perf_counter() - state.started,
            missing_jobs=missing,
        )
    outcome = finish_run(
        run.suite, run.budget, run.run_dir, state.jobs, state.fragments, state.result
    )
    outcome.skipped_jobs, outcome.seconds = len(state.finished), time.perf_counter() - state.started
    return outcome
