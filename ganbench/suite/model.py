"""What a suite file says, once read and checked: its components, budgets, checks and
published references (the dataclasses every other part of ganbench takes), and the
format's keys and operators."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.options import TrainingOptions
from ganbench.registry import METRICS, Entry

SUITE_FILE = "suite.toml"
TOP_LEVEL_KEYS = (
    "name",
    "version",
    "description",
    "datasets",
    "models",
    "metrics",
    "budget",
    "quick",
    "budgets",
    "training",
    "checks",
    "references",
    "primary",
)
REFERENCE_KEYS = (
    "key",
    "mean",
    "std",
    "sem",
    "n",
    "tolerance",
    "source",
    "preprocess",
    "protocol_differs",
    "budget",
)
LABEL_CHARACTERS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Suite names whose page would replace the published site's index.html (in any case: on
#: macOS and Windows INDEX.html is index.html).
RESERVED_NAMES = ("index",)
BUDGET_KEYS = ("steps", "batch_size", "seeds", "eval_samples", "sized_for", "checks")
DEVICE_KINDS = ("cpu", "gpu")
REQUIRED_BUDGET_KEYS = ("steps", "batch_size", "seeds")
CHECK_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Component:
    """A registered model, dataset or metric with the parameters the suite sets.

    `label` names it in results, checks and file names; it defaults to `name` and lets
    one suite hold the same model twice with other parameters (GAN and PacGAN2)."""

    name: str
    params: dict[str, Any]
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)


@dataclass(frozen=True)
class Budget:
    steps: int
    batch_size: int
    seeds: tuple[int, ...]
    #: Caps every metric's `samples` (CPU smoke runs of FID); None keeps the suite's values.
    eval_samples: int | None = None
    #: "gpu": `ganbench run` warns before running it on a CPU; "cpu": a CPU can afford it.
    sized_for: str | None = None
    #: false: the suite's [checks] are not applied (a smoke budget too short for them).
    checks: bool = True

    def metric_params(self, params: dict[str, Any], metric: Entry) -> dict[str, Any]:
        """A metric's parameters under this budget: its `samples` role capped at
        eval_samples."""
        role = metric.role("samples")
        if self.eval_samples is None or role is None:
            return params
        asked = params.get(role, metric.parameters()[role])
        return {**params, role: min(asked, self.eval_samples)}

    def sample_cap(self, params: dict[str, Any], metric: Entry) -> int | None:
        """eval_samples when it lowers the metric's `samples` role (a smoke value), else
        None."""
        role = metric.role("samples")
        if self.eval_samples is None or role is None:
            return None
        asked = params.get(role, metric.parameters()[role])
        return self.eval_samples if asked > self.eval_samples else None


@dataclass(frozen=True)
class Check:
    """`model/dataset/metric OP bound`, e.g. `mlp-gan/ring-8/modes_covered >= 6`."""

    model: str
    dataset: str
    metric: str
    op: str
    bound: float

    @property
    def target(self) -> str:
        return f"{self.model}/{self.dataset}/{self.metric}"

    def passes(self, value: float | None) -> bool:
        return value is not None and CHECK_OPERATORS[self.op](value, self.bound)


@dataclass(frozen=True)
class Reference:
    """A published number the suite should reproduce (see ganbench/results/references.py)."""

    model: str
    dataset: str
    metric: str
    mean: float
    source: str
    #: The spread across the paper's runs: a standard deviation, or a standard error
    #: (sem, which many tables print as "±"); None when the paper gives none.
    std: float | None = None
    sem: float | None = None
    n: int | None = None
    #: Used when the paper gives no spread: |ours - published| <= tolerance; a string
    #: "10%" is relative to the published mean.
    tolerance: float | str | None = None
    #: How the paper's images reached the Inception network ("ttur", "pytorch-fid",
    #: "clean"): a value measured another way is not compared with it.
    preprocess: str | None = None
    #: How the paper's protocol differs from the suite's (architecture, a hyperparameter
    #: search, steps, sample count): its number is shown beside ours, never judged.
    protocol_differs: str | None = None
    #: The [budgets.NAME] the number was measured under; None: the suite's [budget]. A
    #: run of another budget (steps, batch size) is NOT COMPARABLE with it.
    budget: str | None = None

    @property
    def target(self) -> str:
        return f"{self.model}/{self.dataset}/{self.metric}"


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    version: int
    description: str
    datasets: tuple[Component, ...]
    models: tuple[Component, ...]
    metrics: tuple[Component, ...]
    budget: Budget
    quick: Budget
    #: Further budgets chosen with `ganbench run --budget NAME` ([budgets.NAME]), e.g. a
    #: CPU-sized version of a paper's protocol next to the paper's own [budget].
    budgets: dict[str, Budget]
    training: TrainingOptions
    checks: tuple[Check, ...]
    references: tuple[Reference, ...]
    #: Hash of the parsed content (not the bytes: comments and layout don't count).
    hash: str
    #: The metric (a key or a metric's name) leaderboards rank by; None: the first.
    primary: str | None = None

    def budget_for(
        self, quick: bool, name: str | None = None, seeds: Sequence[int] | None = None
    ) -> Budget:
        """The [quick], [budgets.NAME] or [budget] budget; `seeds` replace its seeds (a CI
        gate's rerun on fresh seeds)."""
        if name is not None:
            if name not in self.budgets:
                raise GanbenchError(
                    f"{self.path}: --budget {name}: no [budgets.{name}] table; "
                    f"budgets: {', '.join(self.budgets) or 'none (only [budget] and [quick])'}"
                )
            budget = self.budgets[name]
        else:
            budget = self.quick if quick else self.budget
        return replace(budget, seeds=tuple(seeds)) if seeds else budget

    def budget_of(self, reference: Reference) -> Budget:
        """The budget a published number was measured under: the suite's [budget] unless
        the reference names one of its [budgets.NAME]."""
        return self.budgets[reference.budget] if reference.budget else self.budget


def evaluated_metrics(training: TrainingOptions, names: list[str]) -> list[str]:
    """The metrics measured during training: those named, or all that measure a generator
    (throughput measures training as a whole)."""
    return list(training.eval_metrics) or [
        n for n in names if not METRICS.get(n).meta.get("needs_training")
    ]
