"""Completing a run: results aggregated from its fragments, curves, checks, verdicts on
published numbers, result.json and table.md; `ganbench merge` for a job array's run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.formatting import escape
from ganbench.publishing import tables
from ganbench.results import checks, references
from ganbench.results.confined import inside
from ganbench.results.files import JobFragment, RunFolder, aggregate, job_name, load_result
from ganbench.run.plan import Job, suite_jobs
from ganbench.runtime import conditions
from ganbench.suite import Budget, Suite
from ganbench.viz.curves import save_loss_curves, save_metric_curves, save_signal_curves


@dataclass
class RunOutcome:
    run_dir: Path
    result: dict[str, Any]
    table: str
    check_outcomes: list[checks.CheckOutcome] = field(default_factory=list)
    verdicts: list[references.Verdict] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)
    skipped_jobs: int = 0
    seconds: float = 0.0
    #: Jobs of the run with no fragment yet (other shards' still running).
    missing_jobs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_jobs and all(o.passed for o in self.check_outcomes)

    @property
    def reproduced(self) -> bool:
        """Every reference reproduced (what --require-references asks for)."""
        return all(v.reproduced for v in self.verdicts)


CURVES = ("loss_steps", "loss_d", "loss_g", "signals", "evaluations")


def loss_curves(fragments: list[JobFragment]) -> dict[str, dict[str, dict[str, Any]]]:
    """training[model][dataset][seed] = the finished jobs' CURVES: losses, discriminator
    signals and metrics measured during training."""
    curves: dict[str, dict[str, dict[str, Any]]] = {}
    for f in fragments:
        if f["training"]:
            curves.setdefault(f["model"], {}).setdefault(f["dataset"], {})[str(f["seed"])] = {
                key: f["training"].get(key, {}) for key in CURVES
            }
    return curves


def save_curves(curves: dict[str, dict[str, dict[str, Any]]], folder: RunFolder) -> None:
    """Per (model, dataset), every finished seed on each: the loss curves, the
    discriminator signals and the metric curves (when there are any). Their names come
    from the fragments, which `merge` may have been handed by others: each picture is a
    file name (RunFolder.picture) in a pictures folder inside the run (no symlink out)."""
    inside(folder.path, folder.pictures)
    for model, datasets in curves.items():
        for dataset, per_seed in datasets.items():
            title = escape(f"{model} on {dataset}", "plot")
            save_loss_curves(per_seed, folder.picture(model, dataset, "losses"), title)
            if any(c["signals"] for c in per_seed.values()):
                save_signal_curves(per_seed, folder.picture(model, dataset, "signals"), title)
            if any(c["evaluations"] for c in per_seed.values()):
                save_metric_curves(per_seed, folder.picture(model, dataset, "metrics"), title)


def markdown_report(
    result: dict[str, Any],
    table: str,
    outcomes: list[checks.CheckOutcome],
    verdicts: list[references.Verdict],
) -> str:
    lines = [
        f"# {tables.run_title(result)}",
        "",
        *[f"- {fact}" for fact in tables.run_facts(result)],
        "",
        table,
        "",
        f"mean ± sample std over seeds; ↑ higher is better, ↓ lower is better; "
        f"{tables.units_line(result['results'])}.",
    ]
    if caveats := conditions.notes(result["results"]):
        lines += ["", *[f"- {line}" for line in caveats]]
    if outcomes:
        lines += ["", "## Checks", ""] + [f"- {o.line()}" for o in outcomes]
    if verdicts:
        lines += ["", "## Published references", "", references.markdown(verdicts)]
    return "\n".join(lines) + "\n"


def summarise(result: dict[str, Any], jobs: list[Job], fragments: dict[str, JobFragment]) -> None:
    """result.json's jobs, results, curves and dataset sources, from the fragments."""
    done = [fragments[j.name] for j in jobs if j.name in fragments]  # the suite's order
    result["jobs"] = {
        "total": len(jobs),
        "finished": len(done),
        "failed": {
            job_name(f["model"], f["dataset"], f["seed"]): f["error"]
            for f in done
            if f["status"] != "ok"
        },
    }
    result["results"] = aggregate(done)
    result["training"] = loss_curves(done)
    sources = result["suite"].setdefault("datasets", {})
    for f in done:  # each shard loaded only its own datasets
        if (source := f.get("provenance", {}).get("dataset_source")) is not None:
            sources.setdefault(f["dataset"], source)


def finish_run(
    suite: Suite,
    budget: Budget,
    run_dir: Path,
    jobs: list[Job],
    fragments: dict[str, JobFragment],
    result: dict[str, Any],
) -> RunOutcome:
    """Completes a run whose every job has a fragment: pictures of the curves, checks,
    verdicts, result.json and table.md."""
    folder = RunFolder(run_dir)
    summarise(result, jobs, fragments)
    save_curves(result["training"], folder)
    outcomes = checks.evaluate(suite.checks if budget.checks else (), result["results"])
    ran = {(j.model.label, j.dataset.label) for j in jobs}  # --only leaves pairs out
    verdicts = references.evaluate(
        tuple(r for r in suite.references if (r.model, r.dataset) in ran),
        result["results"],
        budget,
        suite.budget_of,
    )
    result["complete"] = True
    result["checks"] = [o.to_dict() for o in outcomes]
    result["references"] = [v.to_dict() for v in verdicts]
    folder.write_result(result)
    failed = failed_pairs(list(fragments.values()), result["results"])
    table = tables.render(result["results"], "terminal", failed)
    report = markdown_report(
        result, tables.render(result["results"], "md", failed), outcomes, verdicts
    )
    folder.write_table(report)
    return RunOutcome(run_dir, result, table, outcomes, verdicts, list(result["jobs"]["failed"]))


def merge_run(run_dir: Path) -> RunOutcome:
    """`ganbench merge RUN`: completes a run whose jobs ran elsewhere (the shards of a job
    array) from its fragments, or says which jobs are missing."""
    from ganbench.suite import by_name

    started = time.perf_counter()
    result = load_result(run_dir)
    s = result["suite"]
    # By its plain name, never the path the result file records (docs/security.md): a
    # result file does not decide which suite file, and so which code, is loaded.
    suite = by_name(s["name"])
    if suite is None:
        raise GanbenchError(
            f"{run_dir / 'result.json'}: no valid suite named {s['name']!r} in ./suites or the "
            "packaged ones; merge from the project that holds the suite the run was made with"
        )
    if suite.hash != s.get("hash"):
        raise GanbenchError(
            f"{suite.path}: changed since run {result['run']} started (suite hash {suite.hash} "
            f"vs {s.get('hash')}); merge with the suite file the run was made with"
        )
    budget = suite.budget_for(s.get("quick", False), s.get("budget_name"), s.get("seeds"))
    jobs = suite_jobs(suite, budget, tuple(s.get("only") or ()))
    with RunFolder(run_dir).locked():
        fragments = RunFolder(run_dir).fragments([j.name for j in jobs])
        missing = [j.name for j in jobs if j.name not in fragments]
        if missing:
            raise GanbenchError(
                f"{run_dir}: {len(missing)} of {len(jobs)} jobs have no fragment yet: "
                f"{', '.join(missing)}; run their shards (the same --shard and --run-id "
                "resume a shard), then merge again"
            )
        outcome = finish_run(suite, budget, run_dir, jobs, fragments, result)
    outcome.seconds = time.perf_counter() - started
    return outcome


def failed_pairs(fragments: list[JobFragment], results: dict[str, Any]) -> list[tuple[str, str]]:
    """(model, dataset) pairs of which no seed finished: a FAILED row in the tables."""
    failed = (
        (f["model"], f["dataset"])
        for f in fragments
        if f["status"] != "ok" and f["dataset"] not in results.get(f["model"], {})
    )
    return list(dict.fromkeys(failed))
