"""The tables of a suite that say what must hold and what was published: [checks]
(MODEL/DATASET/METRIC OP BOUND) and [[references]] (a paper's number with its spread),
each target checked against the suite's models, datasets and metric keys."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ganbench.errors import did_you_mean
from ganbench.registry import METRICS, preprocessings, takes_preprocessing
from ganbench.suite.model import (
    CHECK_OPERATORS,
    REFERENCE_KEYS,
    Budget,
    Check,
    Component,
    Reference,
)
from ganbench.suite.values import TableReader


class ClaimsReader(TableReader):
    """[checks] and [[references]] of a suite file."""

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
        return tuple(
            self.reference(item, f"references[{index}]", suite_parts, budgets)
            for index, item in enumerate(items)
        )

    def reference(
        self,
        item: dict[str, Any],
        where: str,
        suite_parts: dict[str, tuple[Component, ...]],
        budgets: Mapping[str, Budget],
    ) -> Reference:
        """One [[references]] table: its target, the paper's number and spread, and how
        it was measured (preprocessing, budget)."""
        self.unknown_keys(item, REFERENCE_KEYS, f"{where}.")
        for required in ("key", "mean", "source"):
            if required not in item:
                raise self.error(f"{where}.{required}", "missing")
        parts = self.target(
            self.typed(item["key"], str, f"{where}.key"), f"{where}.key", suite_parts
        )
        spread, n, tolerance, differs = self.spread(item, where)
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
        return Reference(
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

    def spread(
        self, item: dict[str, Any], where: str
    ) -> tuple[dict[str, float], int | None, float | str | None, str | None]:
        """The paper's spread (std or sem, with the number of runs n), or its declared
        tolerance, or how its protocol differs (then it is shown, never judged)."""
        spread = {k: self.number(item[k], f"{where}.{k}", 0.0) for k in ("std", "sem") if k in item}
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
        return spread, n, tolerance, differs

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
