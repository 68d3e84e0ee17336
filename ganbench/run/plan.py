"""What a run trains: its jobs (dataset, model, seed) in the order shards count them, and
the groups that train together (one job, or a model's seeds as one ensemble)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ganbench.errors import GanbenchError
from ganbench.results.files import (
    job_name,
)
from ganbench.suite import Budget, Component, Suite


@dataclass(frozen=True)
class Job:
    dataset: Component
    model: Component
    seed: int

    @property
    def name(self) -> str:
        return job_name(self.model.label, self.dataset.label, self.seed)


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


def job_groups(jobs: list[Job], finished: set[str], together: bool) -> list[list[Job]]:
    """The unfinished jobs, one per group, or (ensemble) one group per (dataset, model)."""
    todo = [j for j in jobs if j.name not in finished]
    if not together:
        return [[j] for j in todo]
    groups: dict[tuple[str, str], list[Job]] = {}
    for j in todo:
        groups.setdefault((j.dataset.label, j.model.label), []).append(j)
    return list(groups.values())


def checkpoint_stem(group: list[Job]) -> str:
    first = group[0]
    return first.name if len(group) == 1 else f"{first.name}-ensemble-{len(group)}"
