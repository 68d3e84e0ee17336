"""Verdicts on published numbers: does this run reproduce the paper's row?

The rule, chosen so that a verdict means the same in every suite:
- The paper gives a spread over n runs (a standard deviation, or a standard
  error, which is converted with sem = std / sqrt(n)): a two-sided Welch t-test
  of our seeds against the published mean and spread. DIFFERS when p < 1 %.
  Welch does not assume equal variances, which matters here: a GAN's spread
  between seeds depends on the protocol. With one seed of ours, our variance
  is taken as 0 (the paper's spread alone decides; degrees of freedom n - 1).
  When both spreads are 0, equal means reproduce and any difference differs.
  Not significant is not reproduced: when p >= 1 % but our mean is more than 3 of the
  paper's run-to-run standard deviations from its mean (as happens with 2-3 noisy
  seeds, whose Welch test has 1-2 degrees of freedom), the verdict is INCONCLUSIVE.
- The paper gives no spread: the suite declares a tolerance (absolute, or
  relative such as "10%") and the verdict is |ours - published| <= tolerance.

A value measured other than as the paper measured it (a budget's eval_samples cap,
another Inception preprocessing than the reference names, or a protocol the suite
declares different: `protocol_differs = "..."`) is NOT COMPARABLE, with the reason.

A verdict is a statement about the numbers, not about blame: a DIFFERS says
the suite does not reproduce the row; the suite file says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from ganbench.formatting import format_number
from ganbench.results import protocol
from ganbench.suite import Reference

#: Two-sided significance level of the Welch test.
ALPHA = 0.01
#: A mean further than this many of the paper's run-to-run standard deviations from its
#: mean is no reproduction, even when our seeds are too few to show the difference.
EQUIVALENT = 3.0


@dataclass(frozen=True)
class Verdict:
    reference: Reference
    #: True: REPRODUCED, False: DIFFERS, None: no value of ours to compare.
    reproduced: bool | None
    ours_mean: float | None
    ours_std: float | None
    ours_n: int
    #: "Welch t = 4.1, p = 0.0003" or "|diff| 0.3 <= tolerance 0.5"
    statistic: str
    #: Why a measured value has no yes-or-no verdict: "NOT COMPARABLE" (not measured as
    #: the paper measured it) or "INCONCLUSIVE" (too few or too noisy seeds to tell).
    undecided: str = ""

    @property
    def status(self) -> str:
        if self.reproduced is None and self.undecided:
            return self.undecided
        return {True: "REPRODUCED", False: "DIFFERS", None: "NO VALUE"}[self.reproduced]

    def published(self) -> str:
        r = self.reference
        if r.sem is not None:
            spread = f" ± {format_number(r.sem)} (s.e.)"
        elif r.std is not None:
            spread = f" ± {format_number(r.std)}"
        else:
            spread = ""
        n = f", n={r.n}" if r.n else ""
        return f"{format_number(r.mean)}{spread}{n}, {r.source}"

    def ours(self) -> str:
        if self.ours_mean is None:
            return "no value"
        return f"{format_number(self.ours_mean)} ± {format_number(self.ours_std)} (n={self.ours_n})"

    def line(self) -> str:
        return (
            f"{self.status} {self.reference.target}  {self.ours()}  vs  "
            f"{self.published()}  ({self.statistic})"
        )

    def to_dict(self) -> dict[str, Any]:
        r = self.reference
        return {
            "target": r.target,
            "verdict": self.status,
            "ours": {"mean": self.ours_mean, "std": self.ours_std, "n": self.ours_n},
            "published": {
                "mean": r.mean,
                "std": r.std,
                "sem": r.sem,
                "n": r.n,
                "tolerance": r.tolerance,
                "source": r.source,
                **({"preprocess": r.preprocess} if r.preprocess else {}),
                **({"protocol_differs": r.protocol_differs} if r.protocol_differs else {}),
            },
            "statistic": self.statistic,
        }


def welch(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> tuple[float, float, float]:
    """Welch's t, its degrees of freedom and the two-sided p-value.

    A sample of one contributes no variance (its term is 0). With both terms 0 the
    statistic is 0 for equal means and infinite otherwise (p 1 or 0)."""
    term_a = var_a / n_a if n_a > 1 else 0.0
    term_b = var_b / n_b if n_b > 1 else 0.0
    se2 = term_a + term_b
    diff = mean_a - mean_b
    if se2 == 0:
        return (0.0 if diff == 0 else math.copysign(math.inf, diff)), math.inf, float(diff == 0)
    t = diff / math.sqrt(se2)
    denominator = (term_a**2 / (n_a - 1) if n_a > 1 else 0.0) + (
        term_b**2 / (n_b - 1) if n_b > 1 else 0.0
    )
    df = se2**2 / denominator
    return t, df, float(2 * stats.t.sf(abs(t), df))


def published_std(reference: Reference) -> float | None:
    if reference.std is not None:
        return reference.std
    if reference.sem is not None and reference.n:
        return reference.sem * math.sqrt(reference.n)
    return None


def verdict(reference: Reference, results: dict[str, Any]) -> Verdict:
    """Compares the run's mean over seeds with the published number."""
    m = results.get(reference.model, {}).get(reference.dataset, {}).get(reference.metric)
    if m is None or m["mean"] is None:
        return Verdict(reference, None, None, None, 0, "the job failed or did not run")
    mean, std, n = m["mean"], m["std"] or 0.0, m["n"]
    if reference.protocol_differs:
        return Verdict(
            reference,
            None,
            mean,
            std,
            n,
            f"the paper's protocol differs: {reference.protocol_differs}",
            "NOT COMPARABLE",
        )
    caps = {c.get("sample_cap") for c in (m.get("conditions") or {}).values() if c}
    if caps - {None}:
        return Verdict(
            reference,
            None,
            mean,
            std,
            n,
            f"a smoke value: {max(caps - {None})} samples (the budget's eval_samples cap), "
            "where the paper's protocol measures more",
            "NOT COMPARABLE",
        )
    if reference.preprocess is not None:
        ours = protocol.settings(m).get("preprocess")
        if ours != reference.preprocess:
            return Verdict(
                reference,
                None,
                mean,
                std,
                n,
                f"the paper's images reached Inception as {reference.preprocess} does, "
                f"this run's as {ours or 'no Inception'} does: set preprocess = "
                f'"{reference.preprocess}" on the metric to compare',
                "NOT COMPARABLE",
            )
    spread = published_std(reference)
    if spread is not None:
        t, df, p = welch(mean, std**2, n, reference.mean, spread**2, reference.n or 1)
        statistic = f"Welch t = {t:.2f}, df = {df:.1f}, p = {p:.2g}"
        if p >= ALPHA and spread > 0 and abs(mean - reference.mean) > EQUIVALENT * spread:
            # Not significant only because our seeds are few or noisy: no reproduction.
            far = abs(mean - reference.mean) / spread
            return Verdict(
                reference,
                None,
                mean,
                std,
                n,
                f"{statistic}; the means are {far:.1f} of the paper's run-to-run stds "
                f"apart (more than {EQUIVALENT}): too few or too noisy seeds to tell",
                "INCONCLUSIVE",
            )
        return Verdict(reference, p >= ALPHA, mean, std, n, statistic)
    tolerance = reference.tolerance
    if isinstance(tolerance, str):
        allowed = abs(reference.mean) * float(tolerance[:-1]) / 100
        shown = f"{tolerance} = {format_number(allowed)}"
    else:
        allowed, shown = float(tolerance), format_number(tolerance)
    diff = abs(mean - reference.mean)
    ok = diff <= allowed
    statistic = f"|diff| {format_number(diff)} {'<=' if ok else '>'} tolerance {shown}"
    return Verdict(reference, ok, mean, std, n, statistic)


def evaluate(references: tuple[Reference, ...], results: dict[str, Any]) -> list[Verdict]:
    return [verdict(r, results) for r in references]


def rows(verdicts: list[Verdict]) -> list[list[str]]:
    """Table rows: target, ours, published, verdict, statistic."""
    return [[v.reference.target, v.ours(), v.published(), v.status, v.statistic] for v in verdicts]


HEADERS = ["model/dataset/metric", "ours (mean ± std, n)", "published", "verdict", "rule"]


def markdown(verdicts: list[Verdict]) -> str:
    from tabulate import tabulate

    return tabulate(rows(verdicts), HEADERS, tablefmt="github")
