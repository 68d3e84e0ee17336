"""The shape of result.json and of job fragments, checked whole when a file is loaded.

Result files are exchanged between people and machines and edited by hand; a
damaged one must stop `compare`, `leaderboard`, `report` and `--resume` with
one line naming the file and the field, never with a traceback from deep
inside a table. A spec is a type (or a tuple of types), `Optional(spec)`,
`ListOf(spec)`, `MapOf(spec)` (any string keys), or a dict of fields, where a
key ending in "?" may be absent. Fields a spec does not name are allowed, so
that newer files stay readable where the fields this version uses are intact.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from ganbench.errors import GanbenchError


@dataclass(frozen=True)
class Optional:
    spec: Any


@dataclass(frozen=True)
class ListOf:
    spec: Any
    min_length: int = 0
    #: What the items are, in words ("numbers or nulls"), for the message.
    items: str = ""


@dataclass(frozen=True)
class MapOf:
    spec: Any
    #: Keys must match this (a job name: a table code parses them), described as `key_is`.
    keys: re.Pattern[str] | None = None
    key_is: str = ""


class Number:
    """int or float, never bool (True is an int in Python, not a measurement)."""


@dataclass(frozen=True)
class AtLeast:
    """`spec` (int or Number) no smaller than `minimum`: a count or a spread is never
    negative, and a hand-edited one would pass as a measurement."""

    spec: Any
    minimum: float


class Timestamp:
    """An ISO 8601 date and time string."""


NUMBER = Optional(Number)
#: results.files.job_name's form, which job_parts reads back.
JOB_NAME = re.compile(r".+__.+__seed\d+", re.DOTALL)
METRIC_RESULT = {
    "metric?": str,
    "mean": NUMBER,
    "std": Optional(AtLeast(Number, 0)),
    "n": AtLeast(int, 0),
    "per_seed": MapOf(NUMBER),
    "unit": str,
    "higher_is_better": bool,
    "settings": dict,
    "conditions?": MapOf(dict),
}
MEASUREMENT = {
    "metric?": str,
    "value": NUMBER,
    "unit": str,
    "higher_is_better": bool,
    "settings": dict,
    "conditions?": dict,
}
BUDGET = {
    "steps": int,
    "batch_size": int,
    "seeds": ListOf(int, 1),
    "eval_samples?": Optional(int),
}
RESULT = {
    "ganbench_version": str,
    "run": str,
    "datetime": Timestamp,
    "complete?": bool,
    "commit_info": {"id": str, "dirty": Optional(bool)},
    "machine_info": {
        "gpu?": Optional(str),
        "cpu?": Optional(str),
        "machine?": Optional(str),
        "torch?": Optional(str),
        "device?": str,
    },
    "suite": {
        "name": str,
        "version": int,
        "hash?": str,
        "path?": str,
        "quick?": bool,
        "budget_name?": Optional(str),
        "only?": ListOf(str),
        "seeds?": Optional(ListOf(int)),
        "budget": BUDGET,
        "training?": dict,
        "components?": MapOf(MapOf(dict)),
        # ganbench/results/protocol.py: each component's parameter defaults and definition version.
        "defaults?": MapOf(MapOf(dict)),
        "definitions?": MapOf(MapOf(int)),
    },
    "jobs?": {
        "total?": int,
        "finished?": int,
        "failed?": MapOf(Optional(str), JOB_NAME, "a job name MODEL__DATASET__seedN"),
    },
    "results": MapOf(MapOf(MapOf(METRIC_RESULT))),
    "training?": MapOf(MapOf(MapOf(dict))),
    "checks?": ListOf({"target": str, "condition": str, "passed": bool, "measured": str}),
    "references?": ListOf(
        {
            "target": str,
            "verdict": str,
            "ours": {"mean": NUMBER, "std": NUMBER, "n": int},
            "published": {
                "mean": Number,
                "std": NUMBER,
                "sem": NUMBER,
                "n": Optional(int),
                "source": str,
            },
            "statistic": str,
            "rule?": int,
        }
    ),
    "resumes?": ListOf({"datetime": Timestamp, "commit": str, "machine": str}),
}
#: A curve over training steps (a NaN loss is written as null).
SERIES = ListOf(NUMBER, items="numbers or nulls")
#: The curves of a job's training that `merge` draws (run/finish.py CURVES).
TRAINING = {
    "loss_steps?": SERIES,
    "loss_d?": SERIES,
    "loss_g?": SERIES,
    "signals?": MapOf(SERIES),
    "evaluations?": dict,
}
FRAGMENT = {
    "model": str,
    "dataset": str,
    "seed": int,
    "status": str,
    "error": Optional(str),
    "measurements": MapOf(MEASUREMENT),
    "training": Optional(TRAINING),
    "provenance?": dict,
}


def _describe(spec: Any) -> str:
    if isinstance(spec, AtLeast):
        return f"{_describe(spec.spec)} >= {spec.minimum:g}"
    if isinstance(spec, Optional):
        return f"{_describe(spec.spec)} or null"
    if isinstance(spec, ListOf):
        items = f" of {spec.items}" if spec.items else ""
        return (
            f"a list of at least {spec.min_length}{items}" if spec.min_length else f"a list{items}"
        )
    if isinstance(spec, (MapOf, dict)) or spec is dict:
        return "an object"
    if spec is Number:
        return "a number"
    if spec is Timestamp:
        return "an ISO date-time string"
    names = {str: "a string", int: "an integer", bool: "true or false"}
    return names.get(spec, getattr(spec, "__name__", str(spec)))


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null"}.get(
        type(value), f"{type(value).__name__} {value!r:.40}"
    )


def problem(value: Any, spec: Any, where: str) -> str | None:
    """The first place where `value` does not match `spec`: 'field X: expected Y, got Z'."""
    if isinstance(spec, Optional):
        return None if value is None else problem(value, spec.spec, where)
    if isinstance(spec, AtLeast):
        if found := problem(value, spec.spec, where):
            return found
        if value < spec.minimum:
            return f"field {where}: expected {_describe(spec)}, got {value}"
        return None

    # Said only when returned: repr() of every object of a large file, on every load, is
    # most of the time it takes to check one.
    def wrong() -> str:
        return f"field {where or '(top)'}: expected {_describe(spec)}, got {_kind(value)}"

    if isinstance(spec, ListOf):
        if not isinstance(value, list) or len(value) < spec.min_length:
            return wrong()
        return next(
            (p for i, v in enumerate(value) if (p := problem(v, spec.spec, f"{where}[{i}]"))),
            None,
        )
    if isinstance(spec, (MapOf, dict)) or spec is dict:
        if not isinstance(value, dict):
            return wrong()
        if isinstance(spec, MapOf):
            if spec.keys is not None and (
                wrong_key := next((k for k in value if not spec.keys.fullmatch(k)), None)
            ):
                return f"field {where}: key {wrong_key!r:.60} is not {spec.key_is}"
            return next(
                (p for k, v in value.items() if (p := problem(v, spec.spec, f"{where}.{k}"))),
                None,
            )
        if isinstance(spec, dict):
            for key, sub in spec.items():
                name = key.rstrip("?")
                path = f"{where}.{name}" if where else name
                if name not in value:
                    if key.endswith("?"):
                        continue
                    return f"field {path} is missing"
                if p := problem(value[name], sub, path):
                    return p
        return None
    if spec is Number:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return wrong()
        try:
            number = float(value)  # a 400-digit integer is valid JSON but no measurement
        except OverflowError:
            return wrong()
        if not math.isfinite(number):  # ganbench writes null; a NaN was put there by hand
            return f"field {where}: expected a finite number or null, got {value}"
        return None
    if spec is Timestamp:
        try:
            dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return wrong()
        return None
    if spec is int and isinstance(value, bool):
        return wrong()
    return None if isinstance(value, spec) else wrong()


def check(data: dict[str, Any], spec: Any, path: Any, what: str) -> None:
    """Raises GanbenchError naming the file and the first field that does not fit."""
    if found := problem(data, spec, ""):
        raise GanbenchError(
            f"{path}: not a valid {what}: {found}; it was edited by hand or written by "
            "another version: restore it from version control, or delete the run"
        )
