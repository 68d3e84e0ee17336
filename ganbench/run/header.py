"""What result.json says of a run before any job has finished, and where this process
runs (kept in each fragment). Finding, claiming, locking and refusing the run folder is
the results folder's (results/store.py, ResultsStore.open_run)."""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import asdict
from typing import Any

import torch

from ganbench import __version__
from ganbench.results import protocol
from ganbench.results.files import SCHEMA_VERSION
from ganbench.runtime.devices import machine_info, machine_slug
from ganbench.suite import Budget, Suite


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


def run_header(
    suite: Suite,
    budget: Budget,
    choice: tuple[bool, str | None, tuple[str, ...], tuple[int, ...] | None],
    run: str,
    commit: dict[str, Any],
    device: torch.device,
    run_id: str | None = None,
) -> dict[str, Any]:
    """What result.json says of a run before any job has finished (written at once, so
    that a run killed during its first job can be resumed). `choice`: the command line's
    --quick, --budget, --only and --seeds; `run`: the run's number as recorded ("0007");
    `run_id`: a job array's (a plain --resume leaves its runs alone)."""
    quick, budget_name, only, seeds = choice
    header = {
        "schema_version": SCHEMA_VERSION,
        "ganbench_version": __version__,
        "run": run,
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
    if run_id is not None:
        header["suite"]["run_id"] = run_id
    return header
