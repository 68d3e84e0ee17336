"""A run folder's state: the header result.json starts with, finding a run to resume and
checking that it may be continued here, and the fragments already on disk."""

from __future__ import annotations

import datetime as dt
import platform
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ganbench import __version__
from ganbench.errors import GanbenchError
from ganbench.results import protocol
from ganbench.results.files import SCHEMA_VERSION, JobFragment, RunFolder, load_fragment
from ganbench.results.store import ResultsStore
from ganbench.run.job import RunSettings
from ganbench.run.plan import Job
from ganbench.runtime.devices import device_name, machine_info, machine_slug
from ganbench.suite import Budget, Suite


def find_resumable(
    results_dir: Path,
    suite: Suite,
    quick: bool,
    budget_name: str | None = None,
    only: tuple[str, ...] = (),
    seeds: tuple[int, ...] | None = None,
) -> Path | None:
    """The newest unfinished run of the same suite content, budget and seeds, if any."""
    for run_dir, meta in reversed(list(ResultsStore(results_dir).loaded("skipped for --resume"))):
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


def continue_run(
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


def check_threads(fragments: dict[str, JobFragment], run: RunSettings, threads: int) -> None:
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


def load_fragments(run_dir: Path, jobs: list[Job], fragments: dict[str, JobFragment]) -> None:
    """Adds the fragments on disk of `jobs` not yet in `fragments` (finished earlier, or by
    another shard)."""
    for job in jobs:
        path = RunFolder(run_dir).fragment(job.name)
        if job.name not in fragments and path.is_file():
            fragments[job.name] = load_fragment(path)
