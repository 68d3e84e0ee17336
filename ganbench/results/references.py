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

A value measured other than as the paper measured it is NOT COMPARABLE, with the reason:
a protocol the suite declares different (`protocol_differs = "..."`), a training budget
(steps, batch size) other than the one the reference was measured under (the suite's
[budget] unless the reference names another), a budget's eval_samples cap, or another
Inception preprocessing than the reference names. Our value still sits beside the
paper's, so a trend shows; a verdict says only what was measured.

The rule is versioned (RULE_CHANGES): each verdict records the version it was made
under, and a leaderboard judges again the verdicts of committed runs made under an
older one, so a result file never keeps a claim the rule no longer makes.

A verdict is a statement about the numbers, not about blame: a DIFFERS says
the suite does not reproduce the row; the suite file says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scipy import stats

from ganbench.formatting import format_number
from ganbench.results import protocol
from ganbench.suite import Budget, Reference

#: Two-sided significance level of the Welch test.
ALPHA = 0.01
#: A mean further than this many of the paper's run-to-run standard deviations from its
#: mean is no reproduction, even when our seeds are too few to show the difference.
EQUIVALENT = 3.0


@dataclass(frozen=True)
class RuleChange:
    """The verdict rule changed: what a verdict claims on the same values moved."""

    version: int
    since: str  # ISO date of the change
    reason: str


#: Every change of the verdict rule, oldest first (rule 1: Welch, tolerance, sample cap,
#: preprocessing and protocol_differs; verdicts recorded without "rule" are rule 1).
RULE_CHANGES: tuple[RuleChange, ...] = (
    RuleChange(
        2,
        "2026-12-04",
        "a run trained under another budget (steps, batch size) than the reference was "
        "measured under is NOT COMPARABLE, saying how much shorter: pacgan-mog's "
        "budgets.cpu, 10,000 of the paper's 400,000 steps, was judged REPRODUCED",
    ),
)
RULE = RULE_CHANGES[-1].version


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
    #: The budget the reference was measured under (None: not known to this verdict).
    paper_budget: Budget | None = None

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
                **({"budget": r.budget} if r.budget else {}),
                **(
                    {"steps": self.paper_budget.steps, "batch_size": self.paper_budget.batch_size}
                    if self.paper_budget
                    else {}
                ),
            },
            "statistic": self.statistic,
            "rule": RULE,
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


def percent(part: float, whole: float) -> str:
    """`2.5`, `0.4`, `50`, `200`: a share as a reader says it (two significant digits
    below 10 %, whole percents above)."""
    share = 100 * part / whole
    return f"{share:.0f}" if share >= 10 else f"{share:.2g}"


def budget_gap(trained: Budget, paper: Budget) -> str | None:
    """How a run's training budget differs from the one the paper's number was measured
    under, in words ("trained 10,000 of the paper's 400,000 steps (2.5 %)"); None when
    the steps and the batch size agree (the seeds are the spread, which Welch weighs)."""
    gaps = []
    if trained.steps < paper.steps:
        gaps.append(
            f"trained {trained.steps:,} of the paper's {paper.steps:,} steps "
            f"({percent(trained.steps, paper.steps)} %)"
        )
    elif trained.steps > paper.steps:
        gaps.append(
            f"trained {trained.steps:,} steps, more than the paper's {paper.steps:,} "
            f"({percent(trained.steps, paper.steps)} %)"
        )
    if trained.batch_size != paper.batch_size:
        gaps.append(f"at batch {trained.batch_size}, the paper's {paper.batch_size}")
    return "; ".join(gaps) or None


def verdict(
    reference: Reference,
    results: dict[str, Any],
    trained: Budget | None = None,
    paper: Budget | None = None,
) -> Verdict:
    """Compares the run's mean over seeds with the published number: `trained` is the
    run's budget, `paper` the one the reference was measured under (Suite.budget_of);
    a verdict is given only where they agree (where either is unknown, the budgets are
    not compared)."""
    m = results.get(reference.model, {}).get(reference.dataset, {}).get(reference.metric)
    if m is None or m["mean"] is None:
        return Verdict(reference, None, None, None, 0, "the job failed or did not run")
    mean, std, n = m["mean"], m["std"] or 0.0, m["n"]

    def not_comparable(reason: str) -> Verdict:
        return Verdict(reference, None, mean, std, n, reason, "NOT COMPARABLE", paper)

    if reference.protocol_differs:
        return not_comparable(f"the paper's protocol differs: {reference.protocol_differs}")
    gap = budget_gap(trained, paper) if trained and paper else None
    if gap:
        return not_comparable(gap)
    caps = {c.get("sample_cap") for c in (m.get("conditions") or {}).values() if c}
    if caps - {None}:
        return not_comparable(
            f"a smoke value: {max(caps - {None})} samples (the budget's eval_samples cap), "
            "where the paper's protocol measures more"
        )
    if reference.preprocess is not None:
        ours = protocol.settings(m).get("preprocess")
        if ours != reference.preprocess:
            return not_comparable(
                f"the paper's images reached Inception as {reference.preprocess} does, "
                f"this run's as {ours or 'no Inception'} does: set preprocess = "
                f'"{reference.preprocess}" on the metric to compare'
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
                paper,
            )
        return Verdict(reference, p >= ALPHA, mean, std, n, statistic, paper_budget=paper)
    tolerance = reference.tolerance
    if isinstance(tolerance, str):
        allowed = abs(reference.mean) * float(tolerance[:-1]) / 100
        shown = f"{tolerance} = {format_number(allowed)}"
    else:
        allowed, shown = float(tolerance), format_number(tolerance)
    diff = abs(mean - reference.mean)
    ok = diff <= allowed
    statistic = f"|diff| {format_number(diff)} {'<=' if ok else '>'} tolerance {shown}"
    return Verdict(reference, ok, mean, std, n, statistic, paper_budget=paper)


def evaluate(
    references: tuple[Reference, ...],
    results: dict[str, Any],
    trained: Budget | None = None,
    paper_budget: Callable[[Reference], Budget] | None = None,
) -> list[Verdict]:
    """Every reference judged; `paper_budget(reference)` gives the budget it was measured
    under (Suite.budget_of)."""
    return [
        verdict(r, results, trained, paper_budget(r) if paper_budget else None) for r in references
    ]


def rejudge(
    stored: dict[str, Any],
    m: dict[str, Any] | None,
    trained: Budget,
    section: str | None,
    paper: Budget | None,
) -> dict[str, Any]:
    """A verdict a run recorded under an older rule, judged again under today's on the
    published numbers it recorded; one of today's rule is kept as it is. `m` is the run's
    value, `trained` its budget and `section` the budget's name ("budgets.cpu", "quick";
    None for the suite's [budget]); `paper` is the budget the reference was measured
    under, None when the suite file is gone: the suite's [budget] is then assumed, as it
    was for every reference before a reference could name another, so a run of any
    other budget is NOT COMPARABLE."""
    if stored.get("rule", 1) >= RULE or stored["target"].count("/") != 2:
        return stored
    pub = stored["published"]
    reference = Reference(
        *stored["target"].split("/"),
        mean=pub["mean"],
        source=pub["source"],
        std=pub.get("std"),
        sem=pub.get("sem"),
        n=pub.get("n"),
        tolerance=pub.get("tolerance"),
        preprocess=pub.get("preprocess"),
        protocol_differs=pub.get("protocol_differs"),
    )
    if paper is None and section is not None and m is not None and m["mean"] is not None:
        return Verdict(
            reference,
            None,
            m["mean"],
            m["std"] or 0.0,
            m["n"],
            f"trained under [{section}] ({trained.steps:,} steps), not the suite's [budget] "
            "that the paper's number is for",
            "NOT COMPARABLE",
        ).to_dict()
    results = {reference.model: {reference.dataset: {reference.metric: m}}} if m else {}
    return verdict(reference, results, trained, paper).to_dict()


def rows(verdicts: list[Verdict]) -> list[list[str]]:
    """Table rows: target, ours, published, verdict, statistic."""
    return [[v.reference.target, v.ours(), v.published(), v.status, v.statistic] for v in verdicts]


HEADERS = ["model/dataset/metric", "ours (mean ± std, n)", "published", "verdict", "rule"]


def markdown(verdicts: list[Verdict]) -> str:
    from tabulate import tabulate

    return tabulate(rows(verdicts), HEADERS, tablefmt="github")
