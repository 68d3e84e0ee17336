"""Regression checks between two runs, in each metric's own direction.

`--fail "fid:+2.0"` fails when FID (lower is better) rose by more than 2.0;
`--fail "samples_per_second:-10%"` when throughput fell by more than 10 %. The
sign must be the direction in which the metric gets worse, so that a rule
cannot silently check the wrong thing. A rule may name a metric key or a
metric (`throughput`), in which case it applies to that metric's keys that
get worse in the rule's direction; a rule that would check none of them is refused
(it would pass any regression). Values measured under different protocols
(ganbench/results/protocol.py: another budget, model parameters, metric settings or
definition) or timed on a busy machine are refused, never compared; runs that
differ only in how they ran (compile, checkpoints, workers) are compared, with a
note.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ganbench import formatting
from ganbench.errors import GanbenchError
from ganbench.formatting import format_number
from ganbench.results import protocol
from ganbench.runtime.conditions import busy, load_sensitive

RULE = re.compile(r"^(?P<name>[\w.-]+):(?P<sign>[+-])(?P<amount>\d+(\.\d*)?|\.\d+)(?P<pct>%?)$")


@dataclass(frozen=True)
class FailRule:
    text: str
    name: str
    sign: str  # "+": fails on increases (lower is better), "-": on decreases
    amount: float
    relative: bool

    def threshold(self, baseline: float) -> float:
        return self.amount / 100 * abs(baseline) if self.relative else self.amount


def parse_rule(text: str) -> FailRule:
    match = RULE.match(text.strip())
    if not match:
        raise GanbenchError(
            f"--fail {text!r}: expected METRIC:+N, METRIC:-N or METRIC:±N%, "
            'e.g. "fid:+2.0" or "samples_per_second:-10%"'
        )
    return FailRule(text, match["name"], match["sign"], float(match["amount"]), bool(match["pct"]))


@dataclass
class Row:
    model: str
    dataset: str
    key: str
    a: dict[str, Any]
    b: dict[str, Any]
    refused: str | None = None

    @property
    def worse_sign(self) -> str:
        return "-" if self.a["higher_is_better"] else "+"

    @property
    def finite(self) -> bool:
        """Both means are numbers: a NaN or an infinity compares as neither worse nor
        better, so a gate that met one would pass silently."""
        return all(
            isinstance(m["mean"], (int, float)) and math.isfinite(m["mean"])
            for m in (self.a, self.b)
        )

    @property
    def delta(self) -> float | None:
        if self.refused or not self.finite:
            return None
        return self.b["mean"] - self.a["mean"]

    def verdict(self) -> str:
        if self.refused:
            return f"refused: {self.refused}"
        if self.delta is None:
            if self.a["mean"] is None or self.b["mean"] is None:
                return "no value"
            return f"not a finite value ({self.a['mean']} vs {self.b['mean']})"
        if self.delta == 0:
            return "same"
        noise = seed_noise(self.a, self.b)
        better = (self.delta > 0) == self.a["higher_is_better"]
        word = "better" if better else "worse"
        return (
            f"{word}, within seed noise" if noise is not None and abs(self.delta) <= noise else word
        )


def seed_noise(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Two standard errors of the difference of means, when both runs have several seeds."""
    if a["n"] < 2 or b["n"] < 2 or a["std"] is None or b["std"] is None:
        return None
    return 2 * math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"])


def compare_results(a: dict[str, Any], b: dict[str, Any]) -> list[Row]:
    """One row per (model, dataset, metric) present in both results; a row whose
    protocols differ (ganbench/results/protocol.py) is refused with the difference."""
    rows = []
    unlike = protocol.run_difference(a, b)
    for model, datasets in a["results"].items():
        for dataset, metrics in datasets.items():
            parts = [
                *unlike,
                *protocol.component_difference(a, b, "models", model),
                *protocol.component_difference(a, b, "datasets", dataset),
            ]
            for key, ma in metrics.items():
                mb = b["results"].get(model, {}).get(dataset, {}).get(key)
                if mb is not None:
                    diffs = parts or protocol.measurement_difference(a, b, ma, mb)
                    refused = (
                        ("protocol differs: " + "; ".join(diffs)) if diffs else None
                    ) or busy_difference(ma, mb)
                    rows.append(Row(model, dataset, key, ma, mb, refused))
    return rows


def busy_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """A value timed while other work competed for the CPUs says nothing about speed (peak
    memory does not depend on the load: it is compared)."""
    if not load_sensitive(a):
        return None
    for run, m in (("A", a), ("B", b)):
        for seed, conditions in (m.get("conditions") or {}).items():
            if reason := busy(conditions):
                return f"{run} seed {seed} {reason}"
    return None


def apply_rules(rows: list[Row], rules: list[FailRule]) -> list[str]:
    """Returns one message per regression (or uncheckable comparison) the rules catch."""
    failures = []
    for rule in rules:
        matched = [r for r in rows if rule.name in (r.key, r.a.get("metric"))]
        if not matched:
            names = sorted({r.key for r in rows} | {r.a.get("metric", r.key) for r in rows})
            raise GanbenchError(
                f"--fail {rule.text!r}: no metric {rule.name!r} in both runs; "
                f"they share: {', '.join(names)}"
            )
        checked = [r for r in matched if r.worse_sign == rule.sign]
        exact = [r for r in matched if r.key == rule.name]
        if (exact and exact[0].worse_sign != rule.sign) or not checked:
            raise GanbenchError(wrong_sign(rule, exact[0] if exact else None, matched))
        for row in checked:
            where = f"{row.model}/{row.dataset}/{row.key}"
            if row.refused or row.delta is None:
                failures.append(f"CANNOT CHECK {where} ({rule.text}): {row.verdict()}")
                continue
            worsening = row.delta if rule.sign == "+" else -row.delta
            limit = rule.threshold(row.a["mean"])
            if worsening > limit:
                failures.append(
                    f"REGRESSION {where}: {format_number(row.a['mean'])} -> "
                    f"{format_number(row.b['mean'])} ({rule.sign}{format_number(worsening)} > "
                    f"{rule.sign}{format_number(limit)} allowed by {rule.text!r})"
                )
    return failures


def wrong_sign(rule: FailRule, exact: Row | None, matched: list[Row]) -> str:
    """A rule whose sign is not the direction in which its values get worse would check
    nothing and pass any regression: it is refused, naming the rule that was meant."""
    amount = rule.text.split(":")[1][1:]
    if exact is not None:
        word = "higher" if exact.a["higher_is_better"] else "lower"
        return (
            f"--fail {rule.text!r}: {rule.name} is {word}-is-better, so a "
            f"regression is {'a decrease' if word == 'higher' else 'an increase'};"
            f" write {rule.name}:{exact.worse_sign}{amount}"
        )
    keys = {r.key: r for r in matched}
    directions = ", ".join(
        f"{key} ({'higher' if r.a['higher_is_better'] else 'lower'}-is-better)"
        for key, r in sorted(keys.items())
    )
    fix = " or ".join(sorted({f"{rule.name}:{r.worse_sign}{amount}" for r in keys.values()}))
    return (
        f"--fail {rule.text!r}: none of metric {rule.name}'s values gets worse by "
        f"{'an increase' if rule.sign == '+' else 'a decrease'}, so the rule would check "
        f"nothing; its keys: {directions}; write {fix}"
    )


def refusals(rows: list[Row]) -> dict[str, int]:
    """Each distinct reason for a refusal, numbered: the table shows the number, and the
    reason is printed once below it (not once per row)."""
    return {
        reason: i for i, reason in enumerate(dict.fromkeys(r.refused for r in rows if r.refused), 1)
    }


def table_rows(rows: list[Row]) -> list[list[str]]:
    numbers = refusals(rows)
    out = []
    for r in rows:
        arrow = "↑" if r.a["higher_is_better"] else "↓"
        delta = r.delta
        rel = f"{delta / abs(r.a['mean']):+.1%}" if delta is not None and r.a["mean"] else ""
        out.append(
            [
                formatting.escape(r.model, "terminal"),
                formatting.escape(r.dataset, "terminal"),
                f"{formatting.escape(r.key, 'terminal')} {arrow}",
                cell(r.a),
                cell(r.b),
                "" if delta is None else f"{delta:+.4g}",
                rel,
                f"refused [{numbers[r.refused]}]" if r.refused else r.verdict(),
            ]
        )
    return out


def cell(m: dict[str, Any]) -> str:
    return formatting.cell(m, "terminal") + (f" (n={m['n']})" if m["n"] > 1 else "")
