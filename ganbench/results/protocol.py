"""What makes two results comparable: a result's protocol, defined once.

A CI gate compares today's model with a baseline committed weeks ago, and a leaderboard
ranks runs made by different versions of ganbench, so "alike" cannot be equality of
every recorded option: each release that records a new option would split old results
from new ones. Instead every recorded option is classified here, once, with its reason:

- **protocol**: changes what is trained or measured. Two results that differ here
  measured different things and are never compared (compare refuses, naming the key and
  both values; a leaderboard marks the rows).
- **execution**: how and where a run ran. Reported as a note, never refused.

And three rules keep results comparable over time:

- **Absent means default.** A result written before an option existed has that option's
  default, so adding an option (with a default) never changes an existing result's
  protocol. Defaults are resolved before comparing: `hidden = 128` written out equals
  an omitted `hidden` whose default is 128.
- **Definitions are versioned.** A built-in model, dataset or metric whose code change
  moves values on the same inputs (architecture, initialisation, a default,
  preprocessing, an estimator) gets a new definition version in DEFINITION_CHANGES, with
  the reason; runs of different versions are refused with that line. A user's component
  may declare one too (`factory.ganbench_meta = {"definition": 2}`); its code is
  otherwise what a CI gate measures, so a change of it is compared, not refused.
- Results written before definitions were recorded have the version in force when they
  were made (their `datetime`).

Used by compare, leaderboard, aggregate (seeds of one run) and the tests that hold every
committed result equal to what the code records today.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from ganbench.options import PRECISIONS, PROCEDURE, TrainingOptions
from ganbench.registry import implied_settings
from ganbench.suite import Budget

PROTOCOL = "protocol"
EXECUTION = "execution"


@dataclass(frozen=True)
class Option:
    kind: str  # PROTOCOL or EXECUTION
    reason: str


#: Every [training] option (tests/test_protocol.py fails on one that is missing here).
TRAINING_OPTIONS: dict[str, Option] = {
    "precision": Option(
        PROTOCOL,
        "bf16 autocast moves values beyond rounding; tf32 is fp32 on a CPU and rounds "
        "matmuls on CUDA, so it counts as fp32 (see effective_precision)",
    ),
    "compile": Option(EXECUTION, "the same graph, compiled: values equal up to float rounding"),
    "compile_mode": Option(EXECUTION, "how torch.compile runs the same graph"),
    "channels_last": Option(
        EXECUTION, "a memory layout: values equal up to float rounding (test_protocol)"
    ),
    "checkpoint_every": Option(
        EXECUTION, "saving state does not change it: per-seed values identical (test_protocol)"
    ),
    "ensemble": Option(
        EXECUTION,
        "seeds trained as one stacked network give each seed's numbers of training it "
        "alone (test_protocols, test_end_to_end); throughput records the ensemble size in "
        "its settings",
    ),
    "eval_every": Option(
        EXECUTION, "observing training leaves the weights bit-identical (test_diagnostics)"
    ),
    "eval_metrics": Option(EXECUTION, "which metrics are observed during training"),
    "steps_to": Option(EXECUTION, "adds measurements; changes none of the others"),
    "job_cpus": Option(EXECUTION, "a Ray task's resources (Ray and local runs are equal)"),
    "job_gpus": Option(EXECUTION, "a Ray task's resources"),
}

#: Every [budget] key.
BUDGET_OPTIONS: dict[str, Option] = {
    "steps": Option(PROTOCOL, "how long the models train"),
    "batch_size": Option(PROTOCOL, "what each step sees"),
    "eval_samples": Option(PROTOCOL, "caps every metric's sample count"),
    "seeds": Option(
        EXECUTION, "which seeds: a CI gate reruns a baseline's protocol on fresh seeds"
    ),
    "sized_for": Option(EXECUTION, "advice: the device the budget was sized for"),
    "checks": Option(EXECUTION, "whether the suite's checks were applied"),
}

#: Keys a metric once recorded in its settings and no longer does, with why: absent on
#: one side and present on the other, they are not a difference.
RETIRED_SETTINGS: dict[str, str] = {
    "timed_steps": "throughput: the number of timed steps moved to the measurement's "
    "conditions (how much was timed, not what)",
}


@dataclass(frozen=True)
class Change:
    """A built-in component's definition changed: values on the same inputs moved."""

    kind: str  # "models", "datasets" or "metrics"
    name: str
    version: int
    #: ISO date-time of the commit that made the change: results older than it, written
    #: before definitions were recorded, have the version before.
    since: str
    commit: str
    reason: str

    def line(self) -> str:
        return f"definition {self.version} since {self.commit} ({self.since[:10]}): {self.reason}"


#: Every definition change of a built-in component, oldest first; one line each. Add one
#: whenever a change moves a component's values on the same inputs.
DEFINITION_CHANGES: tuple[Change, ...] = (
    Change(
        "models",
        "mlp-gan",
        2,
        "2026-11-29T02:10:08+00:00",
        "969288f",
        "seeds as stacked layers and the training procedure rewritten (losses, update "
        "order); suites/mog ring-8 high-quality fraction 0.822 ± 0.057 (run 0001) -> "
        "0.729 ± 0.086 (run 0006) on the same protocol",
    ),
    Change(
        "metrics",
        "memorisation",
        2,
        "2026-12-01T17:15:00+00:00",
        "0ef7219",
        "memorised_fraction matches near copies (blurred, standardised, shifted by up to 2 px) "
        "instead of the nearest classifier feature: copies shifted, noisy or re-contrasted "
        "scored 0 before",
    ),
    Change(
        "metrics",
        "class-coverage",
        2,
        "2026-12-03T13:40:00+00:00",
        "c3a53d4",
        "the class count is the classifier's and class_kl's real histogram the whole test "
        "split's, not the first `samples` labels' (samples = 5 recorded 8 MNIST classes and "
        "an infinite class_kl); unchanged where samples is the test split's size",
    ),
    Change(
        "metrics",
        "memorisation",
        3,
        "2026-12-03T17:36:00+00:00",
        "21a73a4",
        "near copies are matched after each image's background level (its 75th-percentile "
        "pixel) is removed: training digits with noise of std 40/255 were flagged at 0.22, "
        "at 50/255 at 0.02; fresh digits stay at about the quantile",
    ),
    Change(
        "metrics",
        "memorisation",
        4,
        "2026-12-06T23:45:00+00:00",
        "681617c",
        "the held-out test images (test_fid and the threshold) are spread evenly over the test "
        "split rather than its first `samples`, one writer population of MNIST's two: at "
        "samples = 2000, noisy copies 0.366 -> 0.288; unchanged where samples is the split's size",
    ),
)

KINDS = ("models", "datasets", "metrics")


def instant(text: str) -> dt.datetime:
    """An ISO date-time as an instant, to compare: as text, 10:00+09:00 (01:00 UTC) sorted
    after 02:10+00:00. A time without a zone is UTC, as ganbench writes them."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def definition(kind: str, name: str, at: str | None = None) -> int:
    """The definition version of a built-in component (1 unless changed): the current one,
    or the one in force at date-time `at`."""
    version = 1
    for change in DEFINITION_CHANGES:
        if (change.kind, change.name) == (kind, name) and (
            at is None or instant(at) >= instant(change.since)
        ):
            version = change.version
    return version


def change_line(kind: str, name: str, version: int) -> str | None:
    return next(
        (
            c.line()
            for c in DEFINITION_CHANGES
            if (c.kind, c.name, c.version) == (kind, name, version)
        ),
        None,
    )


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples are lists), as a result file stores it."""
    return json.loads(json.dumps(value, default=repr))


PROCEDURE_DEFAULTS = {k: _plain(default) for k, (default, _) in PROCEDURE.items()}


def effective_precision(precision: Any) -> Any:
    """tf32 counts as fp32 (see TRAINING_OPTIONS); a value this ganbench does not know
    (a newer version's, or a hand edit: "fp8", null) is itself, never taken for fp32."""
    if precision not in PRECISIONS:
        return precision
    return "bf16" if precision == "bf16" else "fp32"


def _unknown(recorded: dict[str, Any], known: dict[str, Option], prefix: str) -> dict[str, Any]:
    """Recorded keys this ganbench has no entry for (written by a newer version or by
    hand): what they change is unknown, so they count as protocol, by name; one recorded
    on one side only differs from the other's absence, its default being unknown too."""
    return {f"{prefix}.{k} (unknown key)": v for k, v in recorded.items() if k not in known}


def training_options(recorded: dict[str, Any] | None) -> dict[str, Any]:
    """A result's [training], absent options at their defaults."""
    return _plain({**asdict(TrainingOptions()), **(recorded or {})})


def budget_options(recorded: dict[str, Any]) -> dict[str, Any]:
    """A result's budget, absent keys at the Budget dataclass's defaults."""
    defaults = {f.name: f.default for f in fields(Budget) if f.default is not MISSING}
    return {**defaults, **recorded}


def _builtin_defaults(kind: str, name: str) -> dict[str, Any]:
    """A built-in component's parameters with their defaults, known without importing it;
    {} for a user's component (its defaults are recorded by the runs that used it)."""
    if ":" in name:
        return {}
    from ganbench.registry import DATASETS, MODELS

    registry = {"models": MODELS, "datasets": DATASETS}[kind]
    if name not in registry:
        return {}
    return _plain(registry.get(name).parameters())


def component(result: dict[str, Any], kind: str, label: str) -> dict[str, Any] | None:
    """A model's or dataset's effective protocol in a result: its name, every parameter
    (defaults resolved), the defaults known and its definition version; None if not
    recorded."""
    suite = result["suite"]
    recorded = (suite.get("components") or {}).get(kind, {}).get(label)
    if recorded is None:
        return None
    name = recorded.get("name", label)  # the oldest format: parameters only, label = name
    params = {k: v for k, v in recorded.items() if k != "name"}
    defaults = {
        **(dict(PROCEDURE_DEFAULTS) if kind == "models" else {}),
        **_builtin_defaults(kind, name),
        **(suite.get("defaults") or {}).get(kind, {}).get(label, {}),
    }
    return {
        "name": name,
        "params": {**defaults, **_plain(params)},
        "defaults": defaults,
        "definition": _definition_of(result, kind, label, name),
    }


def _definition_of(result: dict[str, Any], kind: str, key: str, name: str) -> int:
    """The recorded version; for a result made before versions were recorded, the
    built-in's version in force at its date-time (a user's component: 1)."""
    recorded = (result["suite"].get("definitions") or {}).get(kind, {}).get(key)
    if recorded is not None:
        return recorded
    if ":" in name:
        return 1
    return definition(kind, name, result.get("datetime"))


def run_protocol(result: dict[str, Any]) -> dict[str, Any]:
    """What a whole run was trained and measured under, besides its models (the things
    compared): flat "key": value pairs, every protocol option at its effective value."""
    suite = result["suite"]
    training = training_options(suite.get("training"))
    budget = budget_options(suite.get("budget", {}))
    out: dict[str, Any] = {"suite": suite.get("name"), "suite version": suite.get("version")}
    for key, option in BUDGET_OPTIONS.items():
        if option.kind == PROTOCOL:
            out[f"budget.{key}"] = budget.get(key)
    for key, option in TRAINING_OPTIONS.items():
        if option.kind == PROTOCOL:
            value = training.get(key)
            out[f"training.{key}"] = effective_precision(value) if key == "precision" else value
    out |= _unknown(suite.get("budget") or {}, BUDGET_OPTIONS, "budget")
    out |= _unknown(suite.get("training") or {}, TRAINING_OPTIONS, "training")
    return out


def execution(result: dict[str, Any]) -> dict[str, Any]:
    """The execution options of a run (effective values), for notes."""
    suite = result["suite"]
    training = training_options(suite.get("training"))
    budget = budget_options(suite.get("budget", {}))
    out = {f"budget.{k}": budget.get(k) for k, o in BUDGET_OPTIONS.items() if o.kind == EXECUTION}
    out |= {
        f"training.{k}": training.get(k) for k, o in TRAINING_OPTIONS.items() if o.kind == EXECUTION
    }
    if training.get("precision") == "tf32":
        out["training.precision"] = "tf32"
    return out


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    return [
        f"{prefix}{k} {a.get(k)!r} vs {b.get(k)!r}"
        for k in dict.fromkeys([*a, *b])
        if a.get(k) != b.get(k)
    ]


def run_difference(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The protocol differences of two runs, besides models and metrics: each names the
    key and both values."""
    return _differences(run_protocol(a), run_protocol(b))


def execution_difference(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return _differences(execution(a), execution(b))


def component_difference(a: dict[str, Any], b: dict[str, Any], kind: str, label: str) -> list[str]:
    """How a model's or dataset's protocol differs between two results (empty: alike, or
    recorded by only one of them). A user's component recorded without its defaults (an
    older result) takes the other result's recorded defaults for the keys it lacks."""
    ca, cb = component(a, kind, label), component(b, kind, label)
    if ca is None or cb is None:
        return []
    what = f"{kind[:-1]} {label}"
    if ca["name"] != cb["name"]:
        return [f"{what}: {ca['name']} vs {cb['name']}"]
    if ca["definition"] != cb["definition"]:
        newer = max(ca["definition"], cb["definition"])
        why = change_line(kind, ca["name"], newer)
        return [
            f"{what}: definition {ca['definition']} vs {cb['definition']}"
            + (f"; {why}" if why else "")
        ]
    pa = {**cb["defaults"], **ca["params"]}  # a key one side never recorded: its default
    pb = {**ca["defaults"], **cb["params"]}
    return _differences(pa, pb, f"{what} ")


def metric_definition(result: dict[str, Any], metric: str) -> int:
    return _definition_of(result, "metrics", metric, metric)


def settings(measured: dict[str, Any]) -> dict[str, Any]:
    """A measurement's settings as compared: retired keys dropped, implied ones resolved
    (settings an extractor records only when not their default, and results from before
    they existed: absent means the default, as the extractor declares; registry.py)."""
    out = {k: v for k, v in measured.get("settings", {}).items() if k not in RETIRED_SETTINGS}
    for key, (extractor, default) in implied_settings().items():
        if out.get("extractor") == extractor:
            out.setdefault(key, default)
    return out


def measurement_difference(
    a: dict[str, Any], b: dict[str, Any], ma: dict[str, Any], mb: dict[str, Any]
) -> list[str]:
    """How two measurements' protocols differ: the metric's definition, then its settings."""
    metric = ma.get("metric")
    meaning = [  # a hand edit can flip what a value means; then it is not the same value
        f"metric {metric or '?'} {key} {ma.get(key)!r} vs {mb.get(key)!r}"
        for key in ("unit", "higher_is_better")
        if ma.get(key) != mb.get(key)
    ]
    if meaning:
        return meaning
    if metric is not None and metric == mb.get("metric"):
        va, vb = metric_definition(a, metric), metric_definition(b, metric)
        if va != vb:
            why = change_line("metrics", metric, max(va, vb))
            return [f"metric {metric}: definition {va} vs {vb}" + (f"; {why}" if why else "")]
    return _differences(settings(ma), settings(mb), f"metric {metric or '?'} ")


def recorded(suite_obj: Any) -> dict[str, Any]:
    """What a run records of its components beyond the suite's text, so that later
    versions can resolve defaults and definitions: `defaults` (every parameter's default
    per model and dataset label) and `definitions` (versions of models, datasets and
    metrics)."""
    from ganbench.registry import DATASETS, METRICS, MODELS

    registries = {"models": MODELS, "datasets": DATASETS, "metrics": METRICS}
    defaults: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for kind in KINDS:
        for c in getattr(suite_obj, kind):
            entry = registries[kind].get(c.name)
            key = c.name if kind == "metrics" else c.label
            if kind != "metrics":
                known = {
                    k: v for k, v in entry.parameters().items() if v is not inspect.Parameter.empty
                }
                defaults.setdefault(kind, {})[key] = _plain(known)
            declared = entry.meta.get("definition")
            definitions.setdefault(kind, {})[key] = (
                declared if declared is not None else definition(kind, c.name)
            )
    return {"defaults": defaults, "definitions": definitions}
