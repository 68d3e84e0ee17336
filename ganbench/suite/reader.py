"""Reading a suite file: tomllib, then every table validated completely before any
training starts, so that a typo costs a second, not an hour. Every error names the file,
the key and the valid choices; what a component's parameters may be is the registry's
(its choices, ranges, roles and rules), never this module's."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from dataclasses import asdict, replace
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
)
from ganbench.suite.claims import ClaimsReader
from ganbench.suite.find import importable, read_toml, resolve
from ganbench.suite.model import (
    BUDGET_KEYS,
    DEVICE_KINDS,
    LABEL_CHARACTERS,
    REQUIRED_BUDGET_KEYS,
    RESERVED_NAMES,
    TOP_LEVEL_KEYS,
    Budget,
    Component,
    Suite,
    evaluated_metrics,
)


class SuiteReader(ClaimsReader):
    """Every table of one suite file, and the suite they make."""

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
            if "__" in label:  # x__y and y, g__x and g would give one job g__x__y
                raise self.error(
                    f"{where}.label",
                    f"{label!r}: '__' separates model, dataset and seed in job names; use "
                    "one '_' (or '-', '.')",
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

    def identity(self, raw: dict[str, Any]) -> tuple[str, int, str]:
        """The suite's name (it names the run folders), version and description."""
        for key in ("name", "version"):
            if key not in raw:
                raise self.error(key, "missing; a suite needs a name and a version (integer)")
        name = self.typed(raw["name"], str, "name")
        if not LABEL_CHARACTERS.match(name):
            raise self.error(
                "name",
                f"{name!r}: use 1-64 letters, digits, '.', '_' or '-' (it names the run folder)",
            )
        if name.lower() in RESERVED_NAMES:
            raise self.error(
                "name",
                f"{name!r} is the name of the site's own page (ganbench publish); choose another",
            )
        version = self.positive_int(raw["version"], "version")
        return name, version, self.typed(raw.get("description", ""), str, "description")

    def parts(self, raw: dict[str, Any]) -> dict[str, tuple[Component, ...]]:
        """[[datasets]], [[models]] and [[metrics]], each model and metric on datasets
        with the capabilities it requires."""
        parts = {
            "datasets": self.components(raw, "datasets", DATASETS),
            "models": self.components(raw, "models", MODELS),
            "metrics": self.components(raw, "metrics", METRICS),
        }
        for kind, registry in (("model", MODELS), ("metric", METRICS)):
            for component in parts[f"{kind}s"]:
                entry = registry.get(component.name)
                for dataset in parts["datasets"]:
                    if missing := missing_capabilities(entry, dataset.name):
                        raise self.error(
                            f"{kind}s",
                            f"{kind} {component.name!r} needs a dataset with "
                            f"{', '.join(missing)}, which {dataset.name!r} does not have; "
                            "move it to a suite of datasets that do",
                        )
        return parts

    def budgets(self, raw: dict[str, Any]) -> tuple[Budget, Budget, dict[str, Budget]]:
        """[budget], [quick] (by default 200 steps of the first seed) and [budgets.NAME]."""
        if "budget" not in raw:
            raise self.error(
                "budget", "missing; e.g. [budget] steps = 1000, batch_size = 64, seeds = [0]"
            )
        budget = self.budget(raw["budget"], "budget", None)
        quick = (
            self.budget(raw["quick"], "quick", budget)
            if "quick" in raw
            else replace(budget, steps=min(budget.steps, 200), seeds=budget.seeds[:1])
        )
        budgets = raw.get("budgets", {})
        if not isinstance(budgets, dict) or not all(isinstance(b, dict) for b in budgets.values()):
            raise self.error("budgets", "expected tables like [budgets.cpu] steps = 20000")
        for name in budgets:
            if not LABEL_CHARACTERS.match(name) or name in ("quick", "full"):
                raise self.error(
                    f"budgets.{name}",
                    "use letters, digits, '.', '_' or '-', and not quick or full",
                )
        named = {n: self.budget(table, f"budgets.{n}", budget) for n, table in budgets.items()}
        return budget, quick, named

    def ensemble(self, training: TrainingOptions, models: tuple[Component, ...]) -> None:
        """training.ensemble only with models that can train as one (registered so)."""
        if not training.ensemble:
            return
        for component in models:
            if not MODELS.get(component.name).meta.get("ensemble"):
                raise self.error(
                    "training.ensemble",
                    f"model {component.name!r} cannot train as an ensemble (only models "
                    "built from stacked layers, e.g. mlp-gan); set ensemble = false",
                )

    def primary(self, primary: Any, metrics: tuple[Component, ...]) -> str | None:
        """The metric or key leaderboards rank by, one of the suite's."""
        if primary is None:
            return None
        known = [m.name for m in metrics] + [
            k for m in metrics for k in METRICS.get(m.name).meta["keys"]
        ]
        if self.typed(primary, str, "primary") not in known:
            raise self.error(
                "primary",
                f"{primary!r} is not a metric of this suite{did_you_mean(primary, known)}; "
                f"valid: {', '.join(known)}",
            )
        return primary


def check_parameters(entry: Entry, params: dict[str, Any], where: str) -> None:
    """A component's parameters from outside a suite file (ganbench eval, the pytest
    plugin), held to the same rules: known keys, the defaults' types, valid ranges."""
    reader = SuiteReader(Path(where))
    reader.parameters(entry, params, "")
    try:
        check_values(entry, params)
    except GanbenchError as e:
        raise GanbenchError(f"{where}: {e}") from None


def load(path: str | Path) -> Suite:
    """Reads and validates a suite; raises GanbenchError naming file, key and fix."""
    file = resolve(path)
    importable(file.parent)
    reader = SuiteReader(file)
    raw = read_toml(file)
    reader.unknown_keys(raw, TOP_LEVEL_KEYS, "")
    name, version, description = reader.identity(raw)
    parts = reader.parts(raw)
    budget, quick, named = reader.budgets(raw)
    training = reader.training(raw.get("training", {}))
    reader.ensemble(training, parts["models"])
    reader.evaluations(training, parts)
    checks = reader.checks(raw.get("checks", {}), parts)
    references = reader.references(raw.get("references", []), parts, named)
    primary = reader.primary(raw.get("primary"), parts["metrics"])
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
