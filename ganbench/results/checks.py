"""A suite's [checks], applied to aggregated results and reported the way pytest reports tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganbench.formatting import format_number
from ganbench.suite import Check


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    passed: bool
    measured: str

    def line(self) -> str:
        c = self.check
        status = "PASSED" if self.passed else "FAILED"
        return f"{status} {c.target} {c.op} {format_number(c.bound)}  (measured {self.measured})"

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "target": c.target,
            "condition": f"{c.op} {c.bound}",
            "passed": self.passed,
            "measured": self.measured,
        }


def evaluate(checks: tuple[Check, ...], results: dict[str, Any]) -> list[CheckOutcome]:
    """A check passes when the mean over seeds satisfies it; a missing value fails it."""
    outcomes = []
    for check in checks:
        m = results.get(check.model, {}).get(check.dataset, {}).get(check.metric)
        if m is None or m["mean"] is None:
            outcomes.append(CheckOutcome(check, False, "no value: the job failed or did not run"))
            continue
        measured = f"{format_number(m['mean'])} ± {format_number(m['std'])}, n={m['n']}"
        outcomes.append(CheckOutcome(check, check.passes(m["mean"]), measured))
    return outcomes
