"""Suite files: what to train, on what, for how long, and which checks must hold.

A suite is a TOML file read with tomllib and validated completely before any
training starts, so that a typo costs a second, not an hour. Every error names
the file, the key and the valid choices.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import operator
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError, did_you_mean
from ganbench.options import COMPILE_MODES, PRECISIONS, TrainingOptions
from ganbench.registry import (
    DATASETS,
    METRICS,
    MODELS,
    SEEDS,
    Entry,
    Registry,
    check_values,
    missing_capabilities,
    preprocessings,
    takes_preprocessing,
)

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


class _Reader:
    """Validation helpers that know which file they are reading, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> GanbenchError:
        return GanbenchError(f"{self.path}: {key}: {message}" if message else f"{self.path}: {key}")

    def unknown_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(
                    f"{where}{key}",
                    f"unknown key{did_you_mean(key, allowed)}; valid keys: {', '.join(allowed)}",
                )

    def typed(self, value: Any, kind: type | tuple[type, ...], key: str) -> Any:
        # bool is an int in Python but never a valid count or seed in a suite.
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def parameter(self, value: Any, default: Any, key: str, annotation: Any = None) -> Any:
        """A component's parameter, of its default's type: a float also takes an int, and a
        tuple (e.g. layer widths) takes a TOML array of integers. Without a default (or
        with None) its annotation decides, if it is a plain type; else any value goes."""
        if default is inspect.Parameter.empty or default is None:
            if annotation is None:
                return value
            default = annotation(0) if annotation is not str else ""
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise self.error(key, f"expected an array of integers, got {value!r}")
            return value
        return self.typed(value, (int, float) if isinstance(default, float) else type(default), key)

    def parameters(self, entry: Entry, params: dict[str, Any], where: str) -> None:
        """A component's parameters: known keys of the right types, and every parameter
        without a default set."""
        prefix = f"{where}." if where else ""
        defaults = entry.parameters()
        unknown = [k for k in params if k not in defaults]
        if unknown and entry.takes_any_keyword():
            raise self.error(
                f"{prefix}{unknown[0]}",
                f"{entry.name} takes **kwargs, which ganbench can neither check nor record "
                "in results; declare each parameter keyword-only with a default, e.g. "
                "def make(data, *, width: int = 32)",
            )
        self.unknown_keys(params, tuple(defaults), prefix)
        annotations = entry.annotations()
        for name, value in params.items():
            self.parameter(value, defaults[name], f"{prefix}{name}", annotations.get(name))
        for name, default in defaults.items():
            if default is inspect.Parameter.empty and name not in params:
                raise self.error(
                    f"{prefix}{name}", f"missing: {entry.name} has no default for it; set it"
                )

    def positive_int(self, value: Any, key: str) -> int:
        if self.typed(value, int, key) <= 0:
            raise self.error(key, f"must be a positive integer, got {value}")
        return value

    def components(
        self, raw: dict[str, Any], key: str, registry: Registry
    ) -> tuple[Component, ...]:
        items = raw.get(key)
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise self.error(
                key,
                f'expected at least one [[{key}]] table with a name, e.g. [[{key}]] name = "..."',
            )
        components = []
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if "name" not in item:
                raise self.error(f"{where}.name", "missing; every entry needs a name")
            try:
                entry = registry.get(self.typed(item["name"], str, f"{where}.name"))
            except GanbenchError as e:
                raise self.error(f"{where}.name", str(e)) from None
            # module:function names label their results module.function unless told
            label = self.typed(
                item.get("label", entry.name.replace(":", ".")), str, f"{where}.label"
            )
            if not LABEL_CHARACTERS.match(label):
                raise self.error(
                    f"{where}.label",
                    f"{label!r}: use 1-64 letters, digits, '.', '_' or '-' (it names files)",
                )
            params = {k: v for k, v in item.items() if k not in ("name", "label")}
            self.parameters(entry, params, where)
            try:
                check_values(entry, params)
            except GanbenchError as e:
                raise self.error(f"{where}.{e}", "") from None
            components.append(Component(entry.name, params, label))
        labels = [c.label for c in components]
        duplicates = sorted({n for n in labels if labels.count(n) > 1})
        if duplicates:
            raise self.error(
                key,
                f"{', '.join(duplicates)} listed more than once; give each entry its own "
                'label = "..."',
            )
        return tuple(components)

    def budget(self, table: Any, key: str, base: Budget | None) -> Budget:
        if not isinstance(table, dict):
            raise self.error(key, "expected a table like [budget] steps = 1000")
        self.unknown_keys(table, BUDGET_KEYS, f"{key}.")
        missing = [k for k in REQUIRED_BUDGET_KEYS if k not in table]
        if base is None and missing:
            raise self.error(f"{key}.{missing[0]}", "missing")
        steps = self.positive_int(table.get("steps", base and base.steps), f"{key}.steps")
        batch = self.positive_int(
            table.get("batch_size", base and base.batch_size), f"{key}.batch_size"
        )
        seeds = table.get("seeds", base and list(base.seeds))
        if not isinstance(seeds, list) or not seeds:
            raise self.error(
                f"{key}.seeds", "expected a non-empty list of integers, e.g. [0, 1, 2]"
            )
        for i, seed in enumerate(seeds):
            if self.typed(seed, int, f"{key}.seeds[{i}]") not in SEEDS:
                raise self.error(f"{key}.seeds[{i}]", f"{seed} is out of range; valid: {SEEDS}")
        if len(set(seeds)) != len(seeds):
            raise self.error(f"{key}.seeds", f"seeds repeat: {seeds}")
        eval_samples = table.get("eval_samples", base and base.eval_samples)
        if eval_samples is not None and self.positive_int(eval_samples, f"{key}.eval_samples") < 2:
            raise self.error(f"{key}.eval_samples", "must be at least 2 (a covariance needs two)")
        sized_for = table.get("sized_for")  # not inherited: [quick] is never GPU-sized
        if sized_for is not None and sized_for not in DEVICE_KINDS:
            raise self.error(
                f"{key}.sized_for", f"{sized_for!r} is not one of {', '.join(DEVICE_KINDS)}"
            )
        apply_checks = self.typed(table.get("checks", True), bool, f"{key}.checks")
        return Budget(steps, batch, tuple(seeds), eval_samples, sized_for, apply_checks)

    def training(self, table: Any) -> TrainingOptions:
        if not isinstance(table, dict):
            raise self.error("training", 'expected a table like [training] precision = "bf16"')
        defaults = asdict(TrainingOptions())
        self.unknown_keys(table, tuple(defaults), "training.")
        table = dict(table)
        if isinstance(table.get("eval_metrics"), list):
            table["eval_metrics"] = tuple(table["eval_metrics"])
        if type(table.get("job_gpus")) is int:  # TOML's 1 for 1.0
            table["job_gpus"] = float(table["job_gpus"])
        for key, value in table.items():
            self.typed(value, type(defaults[key]), f"training.{key}")
        for name in table.get("eval_metrics", ()):
            self.typed(name, str, "training.eval_metrics")
        for key, threshold in table.get("steps_to", {}).items():
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
                raise self.error(f"training.steps_to.{key}", "expected a number (the threshold)")
            if not math.isfinite(threshold):
                raise self.error(f"training.steps_to.{key}", "the threshold must be finite")
        if table.get("eval_every", 0) < 0:
            raise self.error("training.eval_every", "must be 0 (only at the end) or more")
        if table.get("steps_to") and not table.get("eval_every"):
            raise self.error(
                "training.steps_to", "needs training.eval_every = N (the steps it measures at)"
            )
        if table.get("precision", "fp32") not in PRECISIONS:
            raise self.error(
                "training.precision",
                f"{table['precision']!r} is not one of {', '.join(PRECISIONS)}",
            )
        if table.get("compile_mode", "default") not in COMPILE_MODES:
            raise self.error(
                "training.compile_mode",
                f"{table['compile_mode']!r} is not one of {', '.join(COMPILE_MODES)}",
            )
        if table.get("job_cpus", 1) < 1:
            raise self.error("training.job_cpus", "must be 1 or more (CPUs per Ray task)")
        if not 0 < table.get("job_gpus", 1.0) <= 8:
            raise self.error(
                "training.job_gpus", "must be more than 0 and at most 8 (0.5: two jobs per GPU)"
            )
        if table.get("checkpoint_every", 0) < 0:
            raise self.error("training.checkpoint_every", "must be 0 (only at the end) or more")
        return TrainingOptions(**table)

    def evaluations(
        self, training: TrainingOptions, suite_parts: dict[str, tuple[Component, ...]]
    ) -> None:
        """Metrics measured during training must be the suite's, and a steps_to key one of
        their measurements."""
        if not training.eval_every:
            return
        names = [c.name for c in suite_parts["metrics"]]
        for name in training.eval_metrics:
            if name not in evaluated_metrics(TrainingOptions(), names):
                raise self.error(
                    "training.eval_metrics",
                    f"{name!r} is not one of the suite's metrics that measure a generator "
                    f"({', '.join(evaluated_metrics(TrainingOptions(), names))})",
                )
        keys = [
            key
            for c in suite_parts["metrics"]
            if c.name in evaluated_metrics(training, names)
            for key in METRICS.get(c.name).meta.get("keys", ())
        ]
        for key in training.steps_to:
            if key not in keys:
                raise self.error(
                    f"training.steps_to.{key}",
                    f"not a measurement of the metrics measured during training "
                    f"({', '.join(keys) or 'none'})",
                )

    def checks(
        self, table: Any, suite_parts: dict[str, tuple[Component, ...]]
    ) -> tuple[Check, ...]:
        if not isinstance(table, dict):
            raise self.error(
                "checks", 'expected a table like [checks] "model/dataset/metric" = ">= 1"'
            )
        checks = []
        for target, condition in table.items():
            where = f'checks."{target}"'
            parts = self.target(target, where, suite_parts)
            op, _, bound = self.typed(condition, str, where).strip().partition(" ")
            try:
                number = float(bound)
                if op not in CHECK_OPERATORS or not math.isfinite(number):
                    raise ValueError
            except ValueError:
                raise self.error(
                    where,
                    f"expected 'OP NUMBER' (a finite number) with OP one of "
                    f"{' '.join(CHECK_OPERATORS)}, got {condition!r}",
                ) from None
            checks.append(Check(*parts, op, number))
        return tuple(checks)

    def target(
        self, target: str, where: str, suite_parts: dict[str, tuple[Component, ...]]
    ) -> list[str]:
        """MODEL/DATASET/METRIC, each part checked against the suite's labels and keys."""
        models = [c.label for c in suite_parts["models"]]
        datasets = [c.label for c in suite_parts["datasets"]]
        keys = [k for c in suite_parts["metrics"] for k in METRICS.get(c.name).meta["keys"]]
        parts = target.split("/")
        if len(parts) != 3:
            raise self.error(
                where, "expected MODEL/DATASET/METRIC, e.g. mlp-gan/ring-8/modes_covered"
            )
        for value, valid, what in zip(
            parts, (models, datasets, keys), ("model", "dataset", "metric"), strict=True
        ):
            if value not in valid:
                raise self.error(
                    where,
                    f"{what} {value!r} is not in this suite"
                    f"{did_you_mean(value, valid)}; valid: {', '.join(valid)}",
                )
        return parts

    def number(self, value: Any, key: str, minimum: float = -math.inf) -> float:
        number = float(self.typed(value, (int, float), key))
        if not math.isfinite(number) or number < minimum:
            raise self.error(key, f"must be a finite number >= {minimum}, got {value!r}")
        return number

    def references(
        self,
        items: Any,
        suite_parts: dict[str, tuple[Component, ...]],
        budgets: Mapping[str, Budget],
    ) -> tuple[Reference, ...]:
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self.error(
                "references",
                'expected [[references]] tables, e.g. key = "gan/grid-25/modes_covered", '
                'mean = 17.3, sem = 0.8, n = 10, source = "PacGAN Table 1"',
            )
        references = []
        for index, item in enumerate(items):
            where = f"references[{index}]"
            self.unknown_keys(item, REFERENCE_KEYS, f"{where}.")
            for required in ("key", "mean", "source"):
                if required not in item:
                    raise self.error(f"{where}.{required}", "missing")
            key = self.typed(item["key"], str, f"{where}.key")
            parts = self.target(key, f"{where}.key", suite_parts)
            spread = {
                k: self.number(item[k], f"{where}.{k}", 0.0) for k in ("std", "sem") if k in item
            }
            if len(spread) > 1:
                raise self.error(f"{where}.std", "give std or sem, not both")
            n = item.get("n")
            differs = item.get("protocol_differs")
            if differs is not None and not self.typed(differs, str, f"{where}.protocol_differs"):
                raise self.error(f"{where}.protocol_differs", "say how the protocol differs")
            if spread and n is None and differs is None:
                raise self.error(f"{where}.n", "missing: a std or sem needs the number of runs")
            if n is not None:
                self.positive_int(n, f"{where}.n")
            if spread and n == 1 and any(spread.values()):
                raise self.error(
                    f"{where}.n",
                    "1 run has no spread: give n (the number of runs the std or sem is "
                    "over), or drop the std/sem and declare a tolerance",
                )
            tolerance = item.get("tolerance")
            if tolerance is not None:
                tolerance = self.tolerance(tolerance, f"{where}.tolerance")
            if not spread and tolerance is None and differs is None:
                raise self.error(
                    where,
                    "the paper's spread is missing: give std or sem with n, or a declared "
                    'tolerance (e.g. tolerance = 0.5 or tolerance = "10%"); or, where its '
                    'protocol is not the suite\'s, protocol_differs = "how"',
                )
            preprocess = item.get("preprocess")
            if preprocess is not None and preprocess not in preprocessings():
                raise self.error(
                    f"{where}.preprocess",
                    f"{preprocess!r}: the paper's preprocessing is one of "
                    f"{', '.join(preprocessings())}",
                )
            if preprocess is not None and not with_preprocessing(parts[2], suite_parts):
                raise self.error(
                    f"{where}.preprocess",
                    f"{parts[2]} is not measured through the Inception network, so it has "
                    "no preprocessing to compare; remove preprocess from this reference",
                )
            budget = item.get("budget")
            if budget is not None and self.typed(budget, str, f"{where}.budget") not in budgets:
                raise self.error(
                    f"{where}.budget",
                    f"{budget!r} is not a [budgets.NAME] of this suite"
                    f"{did_you_mean(budget, list(budgets))}; valid: "
                    f"{', '.join(budgets) or 'none'} (leave it out for the suite's [budget])",
                )
            references.append(
                Reference(
                    *parts,
                    mean=self.number(item["mean"], f"{where}.mean"),
                    source=self.typed(item["source"], str, f"{where}.source"),
                    n=n,
                    tolerance=tolerance,
                    preprocess=preprocess,
                    protocol_differs=differs,
                    budget=budget,
                    **spread,
                )
            )
        return tuple(references)

    def tolerance(self, value: Any, key: str) -> float | str:
        if isinstance(value, str):
            try:
                if not value.endswith("%") or not 0 < float(value[:-1]) < math.inf:
                    raise ValueError
            except ValueError:
                raise self.error(
                    key, f'expected a finite number or a percentage like "10%", got {value!r}'
                ) from None
            return value
        number = self.number(value, key, 0.0)
        if number == 0:
            raise self.error(key, "must be greater than 0")
        return number


def with_preprocessing(key: str, suite_parts: dict[str, tuple[Component, ...]]) -> bool:
    """Whether the metric giving `key` takes its images through an extractor with a
    preprocessing (the Inception's): only then has a reference's `preprocess` a meaning."""
    for c in suite_parts["metrics"]:
        entry = METRICS.get(c.name)
        if key in entry.meta["keys"]:
            return takes_preprocessing(entry, {**entry.parameters(), **c.params})
    return False


def check_parameters(entry: Entry, params: dict[str, Any], where: str) -> None:
    """A component's parameters from outside a suite file (ganbench eval, the pytest
    plugin), held to the same rules: known keys, the defaults' types, valid ranges."""
    reader = _Reader(Path(where))
    reader.parameters(entry, params, "")
    try:
        check_values(entry, params)
    except GanbenchError as e:
        raise GanbenchError(f"{where}: {e}") from None


#: The reference suites shipped in the package (in a checkout, the repository's suites/).
PACKAGED = Path(__file__).resolve().parent / "suites"


def known_suites(local: Path = Path("suites")) -> list[tuple[str, Path, str]]:
    """(name, suite.toml, where from) of every suite found by name: those under `local`
    (the project's own, or a checkout's), then the packaged ones they do not shadow."""
    found: dict[str, tuple[Path, str]] = {}
    for folder in (local, PACKAGED):
        for path in sorted(folder.glob(f"*/{SUITE_FILE}")):
            origin = "packaged" if folder is PACKAGED else str(path.parent)
            found.setdefault(path.parent.name, (path, origin))
    return [(name, path, origin) for name, (path, origin) in sorted(found.items())]


def resolve(path: str | Path) -> Path:
    """A suite folder, its suite.toml, a name under ./suites, or the name of a suite that
    ships with ganbench (`ganbench run mnist-ci` from any folder)."""
    candidate = Path(path)
    # A name is a plain name: "../suites/mog" that does not exist here must not become the
    # packaged mog, nor "../../x" a folder outside the packaged suites.
    by_name = [Path("suites") / candidate, PACKAGED / candidate] if is_name(str(path)) else []
    for option in (candidate, *by_name):
        if option.is_dir() and (option / SUITE_FILE).is_file():
            return option / SUITE_FILE
        if option.is_file():
            return option
    known = [
        origin if origin != "packaged" else f"{name} (packaged)"
        for name, _, origin in known_suites()
    ]
    raise GanbenchError(
        f"{path}: no suite here: expected a folder holding {SUITE_FILE}, a .toml file or "
        "a suite's name" + (f"; suites found: {', '.join(known)}" if known else "")
    )


def is_name(text: str) -> bool:
    """A suite's name (mnist-ci), as opposed to a path."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*", text)) and text not in (".", "..")


def by_name(name: str) -> Suite | None:
    """The suite a result file names, by its plain name, from ./suites or the packaged
    ones only (the first whose `name` it is); None when there is none or its file is
    invalid (results outlive their suite files). A name from a result file is data
    (docs/security.md): never a path, so it can never make ganbench load a suite, or
    import the code one names, from anywhere else."""
    if not isinstance(name, str) or not is_name(name):
        return None
    for _, file, _ in known_suites():
        try:
            declared = tomllib.loads(file.read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if declared == name:
            try:
                return load(file)
            except GanbenchError:
                return None
    return None


def importable(folder: Path) -> None:
    """Puts the suite's folder and the current directory on sys.path, so that a suite
    can name `mymodels:make` from a file beside it or from the project it runs in."""
    for entry in (str(folder.resolve()), str(Path.cwd())):
        if entry not in sys.path:
            sys.path.insert(0, entry)


def evaluated_metrics(training: TrainingOptions, names: list[str]) -> list[str]:
    """The metrics measured during training: those named, or all that measure a generator
    (throughput measures training as a whole)."""
    return list(training.eval_metrics) or [
        n for n in names if not METRICS.get(n).meta.get("needs_training")
    ]


def load(path: str | Path) -> Suite:
    """Reads and validates a suite; raises GanbenchError naming file, key and fix."""
    file = resolve(path)
    importable(file.parent)
    reader = _Reader(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GanbenchError(f"{file}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise GanbenchError(f"{file}: not UTF-8 text: {e}") from None

    reader.unknown_keys(raw, TOP_LEVEL_KEYS, "")
    for key in ("name", "version"):
        if key not in raw:
            raise reader.error(key, "missing; a suite needs a name and a version (integer)")
    name = reader.typed(raw["name"], str, "name")
    if not LABEL_CHARACTERS.match(name):
        raise reader.error(
            "name", f"{name!r}: use 1-64 letters, digits, '.', '_' or '-' (it names the run folder)"
        )
    if name.lower() in RESERVED_NAMES:
        raise reader.error(
            "name",
            f"{name!r} is the name of the site's own page (ganbench publish); choose another",
        )
    version = reader.positive_int(raw["version"], "version")
    description = reader.typed(raw.get("description", ""), str, "description")

    parts = {
        "datasets": reader.components(raw, "datasets", DATASETS),
        "models": reader.components(raw, "models", MODELS),
        "metrics": reader.components(raw, "metrics", METRICS),
    }
    for kind, registry in (("model", MODELS), ("metric", METRICS)):
        for component in parts[f"{kind}s"]:
            entry = registry.get(component.name)
            for dataset in parts["datasets"]:
                missing = missing_capabilities(entry, dataset.name)
                if missing:
                    raise reader.error(
                        f"{kind}s",
                        f"{kind} {component.name!r} needs a dataset with "
                        f"{', '.join(missing)}, which {dataset.name!r} does not have; "
                        "move it to a suite of datasets that do",
                    )
    if "budget" not in raw:
        raise reader.error(
            "budget", "missing; e.g. [budget] steps = 1000, batch_size = 64, seeds = [0]"
        )
    budget = reader.budget(raw["budget"], "budget", None)
    quick = (
        reader.budget(raw["quick"], "quick", budget)
        if "quick" in raw
        else replace(budget, steps=min(budget.steps, 200), seeds=budget.seeds[:1])
    )
    budgets = raw.get("budgets", {})
    if not isinstance(budgets, dict) or not all(isinstance(b, dict) for b in budgets.values()):
        raise reader.error("budgets", "expected tables like [budgets.cpu] steps = 20000")
    for budget_name in budgets:
        if not LABEL_CHARACTERS.match(budget_name) or budget_name in ("quick", "full"):
            raise reader.error(
                f"budgets.{budget_name}",
                "use letters, digits, '.', '_' or '-', and not quick or full",
            )
    named = {n: reader.budget(table, f"budgets.{n}", budget) for n, table in budgets.items()}
    training = reader.training(raw.get("training", {}))
    if training.ensemble:
        for component in parts["models"]:
            if not MODELS.get(component.name).meta.get("ensemble"):
                raise reader.error(
                    "training.ensemble",
                    f"model {component.name!r} cannot train as an ensemble (only models "
                    "built from stacked layers, e.g. mlp-gan); set ensemble = false",
                )
    reader.evaluations(training, parts)
    checks = reader.checks(raw.get("checks", {}), parts)
    references = reader.references(raw.get("references", []), parts, named)
    primary = raw.get("primary")
    if primary is not None:
        known = [m.name for m in parts["metrics"]] + [
            k for m in parts["metrics"] for k in METRICS.get(m.name).meta["keys"]
        ]
        if reader.typed(primary, str, "primary") not in known:
            raise reader.error(
                "primary",
                f"{primary!r} is not a metric of this suite{did_you_mean(primary, known)}; "
                f"valid: {', '.join(known)}",
            )
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
    return Suite(
        file,
        name,
        version,
        description,
        parts["datasets"],
        parts["models"],
        parts["metrics"],
        budget,
        quick,
        named,
        training,
        checks,
        references,
        digest,
        primary,
    )
