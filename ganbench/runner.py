"""Runs a suite: every (dataset, model, seed) is trained, measured and saved as a fragment.

Jobs are independent and each writes its own fragment, so an interrupted run
keeps what finished, `--resume` skips it, and a cluster could run the jobs
through its own scheduler later without changing the result format.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganbench import __version__, checks, tables
from ganbench.data.base import Dataset
from ganbench.data.mog import MixtureOfGaussians
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext, MetricFn
from ganbench.registry import DATASETS, METRICS, MODELS
from ganbench.results import (
    RESULT_FILE,
    SCHEMA_VERSION,
    JobFragment,
    aggregate,
    atomic_write_text,
    commit_info,
    machine_info,
    machine_slug,
    new_run_dir,
    read_json,
    run_dirs,
    write_json,
)
from ganbench.suite import Budget, Component, Suite
from ganbench.training import TrainingDiverged, train
from ganbench.viz.mog import save_scatter

PICTURE_SAMPLES = 2500


class RunInterrupted(Exception):
    """Ctrl-C during a run: finished jobs are on disk and `--resume` continues."""

    def __init__(self, run_dir: Path, finished: int, total: int) -> None:
        super().__init__(
            f"interrupted after {finished} of {total} jobs; finished jobs are kept in {run_dir}"
        )
        self.run_dir = run_dir


@dataclass
class RunOutcome:
    run_dir: Path
    result: dict[str, Any]
    table: str
    check_outcomes: list[checks.CheckOutcome] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)
    skipped_jobs: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed_jobs and all(o.passed for o in self.check_outcomes)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanbenchError(
            f"--device {name}: CUDA is not available here (torch "
            f"{torch.__version__}); use --device cpu or --device auto"
        )
    return device


def job_name(model: str, dataset: str, seed: int) -> str:
    return f"{model}__{dataset}__seed{seed}"


def find_resumable(results_dir: Path, suite: Suite, quick: bool) -> Path | None:
    """The newest unfinished run of the same suite content and budget, if any."""
    for run_dir in reversed(run_dirs(results_dir)):
        path = run_dir / RESULT_FILE
        if not path.is_file():
            continue
        meta = read_json(path, "ganbench result file")
        s = meta.get("suite", {})
        if (s.get("name"), s.get("hash"), s.get("quick")) == (suite.name, suite.hash, quick):
            return None if meta.get("complete") else run_dir
    return None


def save_picture(data: Dataset, generated: torch.Tensor, seed: int, path: Path, title: str) -> None:
    if isinstance(data, MixtureOfGaussians):
        save_scatter(data, data.real_samples(PICTURE_SAMPLES, seed + 1), generated, path, title)


def run_job(
    model: Component,
    data: Dataset,
    metrics: dict[str, MetricFn],
    budget: Budget,
    seed: int,
    device: torch.device,
    run_dir: Path,
    label: str,
) -> JobFragment:
    """Trains one model on one dataset with one seed, measures it, and draws it."""
    torch.manual_seed(seed)
    gan = MODELS.get(model.name).factory(data, **model.params)
    fragment = JobFragment(
        schema_version=SCHEMA_VERSION,
        model=model.name,
        dataset=data.name,
        seed=seed,
        status="ok",
        error=None,
        measurements={},
        training=None,
    )
    try:
        record = train(
            gan,
            data,
            steps=budget.steps,
            batch_size=budget.batch_size,
            device=device,
            seed=seed,
            label=label,
        )
    except TrainingDiverged as e:
        print(f"{label}: FAILED: {e}", file=sys.stderr)
        return {**fragment, "status": "failed", "error": str(e)}
    fragment["training"] = record.to_dict()
    ctx = EvalContext(gan, data, record, seed)
    for metric_name, measure in metrics.items():
        for key, m in measure(ctx).items():
            fragment["measurements"][key] = {
                "metric": metric_name,
                "value": m.value,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "settings": m.settings,
            }
    if seed == budget.seeds[0]:
        picture = run_dir / "pictures" / f"{model.name}__{data.name}.png"
        title = f"{model.name} on {data.name}, seed {seed}, {budget.steps} steps"
        measured = fragment["measurements"]
        if "modes_covered" in measured:
            title += (
                f"\n{measured['modes_covered']['value']} modes covered, "
                f"{measured['high_quality_fraction']['value']:.0%} high quality"
            )
        save_picture(data, gan.sample(PICTURE_SAMPLES, seed), seed, picture, title)
    return fragment


def markdown_report(result: dict[str, Any], table: str, outcomes: list[checks.CheckOutcome]) -> str:
    s, m, c = result["suite"], result["machine_info"], result["commit_info"]
    lines = [
        f"# {s['name']} — run {result['run']}{' (quick)' if s['quick'] else ''}",
        "",
        f"- date: {result['datetime']}",
        f"- ganbench {result['ganbench_version']}, commit {c['id'][:8]}"
        f"{' (dirty)' if c['dirty'] else ''}",
        f"- machine: {m['gpu'] or m['cpu']}, torch {m['torch']}, device {m['device']}",
        f"- budget: {s['budget']['steps']} steps, batch {s['budget']['batch_size']}, "
        f"seeds {s['budget']['seeds']}",
        "",
        table,
        "",
        f"mean ± sample std over seeds; ↑ higher is better, ↓ lower is better; "
        f"{tables.units_line(result['results'])}.",
    ]
    if outcomes:
        lines += ["", "## Checks", ""] + [f"- {o.line()}" for o in outcomes]
    return "\n".join(lines) + "\n"


def run_suite(
    suite: Suite,
    *,
    quick: bool = False,
    results_dir: Path = Path("results"),
    resume: bool = False,
    device: str = "auto",
) -> RunOutcome:
    """Trains and measures every job of `suite`, writing results as it goes."""
    started = time.perf_counter()
    torch_device = resolve_device(device)
    budget = suite.budget_for(quick)
    commit = commit_info()
    run_dir = find_resumable(results_dir, suite, quick) if resume else None
    if resume and run_dir is None:
        print(
            f"nothing to resume for suite {suite.name!r} in {results_dir}; starting a new run",
            file=sys.stderr,
        )
    run_dir = run_dir or new_run_dir(
        results_dir, machine_slug(torch_device), commit["id"], suite.name
    )
    print(
        f"ganbench {__version__}: suite {suite.name} v{suite.version}"
        f"{' --quick' if quick else ''} on {torch_device}; writing {run_dir}",
        file=sys.stderr,
    )

    metrics = {c.name: METRICS.get(c.name).factory(**c.params) for c in suite.metrics}
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "ganbench_version": __version__,
        "run": run_dir.name[:4],
        "datetime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": False,
        "commit_info": commit,
        "machine_info": machine_info(torch_device),
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "hash": suite.hash,
            "path": str(suite.path),
            "quick": quick,
            "budget": {
                "steps": budget.steps,
                "batch_size": budget.batch_size,
                "seeds": list(budget.seeds),
            },
        },
        "jobs": {},
        "results": {},
    }
    jobs = [(d, m, seed) for d in suite.datasets for m in suite.models for seed in budget.seeds]
    fragments: list[JobFragment] = []
    built: dict[str, Dataset] = {}  # each dataset is built (images: loaded) once per run
    skipped = 0
    try:
        for index, (dataset, model, seed) in enumerate(jobs, start=1):
            name = job_name(model.name, dataset.name, seed)
            path = run_dir / "jobs" / f"{name}.json"
            if path.is_file():
                fragment = read_json(path, "ganbench job fragment")
                skipped += 1
                print(f"[{index}/{len(jobs)}] {name}: finished earlier, skipped", file=sys.stderr)
            else:
                if dataset.name not in built:
                    built[dataset.name] = DATASETS.get(dataset.name).factory(**dataset.params)
                data = built[dataset.name]
                fragment = run_job(
                    model,
                    data,
                    metrics,
                    budget,
                    seed,
                    torch_device,
                    run_dir,
                    f"[{index}/{len(jobs)}] {model.name} {dataset.name} s{seed}",
                )
                write_json(path, fragment)
            fragments.append(fragment)
            result["jobs"] = {
                "total": len(jobs),
                "finished": len(fragments),
                "failed": {
                    job_name(f["model"], f["dataset"], f["seed"]): f["error"]
                    for f in fragments
                    if f["status"] != "ok"
                },
            }
            result["results"] = aggregate(fragments)
            write_json(run_dir / RESULT_FILE, result)
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir, len(fragments), len(jobs)) from None

    outcomes = checks.evaluate(suite.checks, result["results"])
    result["complete"] = True
    result["checks"] = [o.to_dict() for o in outcomes]
    write_json(run_dir / RESULT_FILE, result)
    table = tables.render(result["results"], "terminal")
    atomic_write_text(
        run_dir / "table.md",
        markdown_report(result, tables.render(result["results"], "md"), outcomes),
    )
    return RunOutcome(
        run_dir,
        result,
        table,
        outcomes,
        list(result["jobs"]["failed"]),
        skipped,
        time.perf_counter() - started,
    )
