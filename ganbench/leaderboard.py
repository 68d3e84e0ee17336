"""Leaderboards from result files: one row per model, its newest full run of the suite.

Cells are mean ± std (n seeds); the best value per column is bold among the
cells measured with the same settings, and every column's settings are
footnoted, with a marker per variant when rows were measured differently, so
that numbers that are not comparable never share a column silently.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from ganbench import protocol
from ganbench.conditions import MARK, caveats
from ganbench.errors import GanbenchError
from ganbench.results import RunFolder, load_result, run_dirs
from ganbench.tables import FORMATS, cell, escape, header

LEADERBOARD_FORMATS = ("md", "csv", "latex", "html")
BOLD = {"md": "**{}**", "latex": r"\textbf{{{}}}", "html": "<b>{}</b>"}


@dataclass
class Entry:
    model: str
    run: str
    machine: str
    commit: str
    metrics: dict[tuple[str, str], dict[str, Any]]  # (dataset, key) -> MetricResult
    #: The run's verdicts on published numbers for this model (result.json "references").
    references: list[dict[str, Any]] = field(default_factory=list)
    #: What the row was trained and measured under besides its model (protocol.py):
    #: rows of different protocols are marked, and never bolded against each other.
    protocol: dict[str, Any] = field(default_factory=dict)


def collect(results_dir: Path, suite: str, include_quick: bool = False) -> list[Entry]:
    """The newest complete run of `suite` for each model. Quick runs, and reruns on other
    seeds than the budget's (`--seeds`: a CI gate's, one seed), are only used if asked."""
    newest: dict[str, tuple[str, Entry]] = {}
    failed: dict[str, tuple[str, str]] = {}  # model -> (datetime, run) of its newest failed run
    for run_dir in run_dirs(results_dir):
        if not RunFolder(run_dir).result.is_file():
            continue
        try:
            r = load_result(run_dir)
        except GanbenchError as e:  # one damaged file must not hide every other run
            print(f"ganbench: warning: skipped: {e}", file=sys.stderr)
            continue
        if r["suite"]["name"] != suite or not r.get("complete"):
            continue
        if (r["suite"].get("quick") or r["suite"].get("seeds")) and not include_quick:
            continue
        for job in (r.get("jobs") or {}).get("failed") or {}:
            model = job.split("__")[0]
            if model not in r["results"] and r["datetime"] >= failed.get(model, ("",))[0]:
                failed[model] = (r["datetime"], r["run"])
        m = r["machine_info"]
        for model, datasets in r["results"].items():
            entry = Entry(
                model,
                r["run"],
                m.get("gpu") or f"cpu {m.get('machine')}",
                r["commit_info"]["id"][:8],
                {
                    (d, k): _with_definition(r, v)
                    for d, metrics in datasets.items()
                    for k, v in metrics.items()
                },
                [v for v in r.get("references", []) if v["target"].split("/")[0] == model],
                run_protocol(r, datasets),
            )
            if model not in newest or r["datetime"] >= newest[model][0]:
                newest[model] = (r["datetime"], entry)
    if not newest:
        raise GanbenchError(
            f"{results_dir}: no complete{'' if include_quick else ' full'} run of "
            f"suite {suite!r}; run `ganbench run suites/{suite}` first"
            + ("" if include_quick else " (or pass --include-quick)")
        )
    for model, (when, run) in sorted(failed.items()):
        if model in newest and when > newest[model][0]:
            print(
                f"ganbench: warning: {model}: its newest run {run} failed; the leaderboard "
                f"shows its last run with results, {newest[model][1].run}",
                file=sys.stderr,
            )
    entries = [entry for _, entry in newest.values()]
    return sorted(
        entries + [p for e in entries for p in published_entries(e)], key=lambda e: e.model
    )


def run_protocol(result: dict[str, Any], datasets: dict[str, Any]) -> dict[str, Any]:
    """A row's protocol besides its model: its run's and its datasets'."""
    return protocol.run_protocol(result) | {
        f"dataset {d}": protocol.component(result, "datasets", d) for d in datasets
    }


def _with_definition(result: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    """A cell measured by a changed metric definition shows it among its settings (and
    is footnoted and bolded apart); the first definition shows nothing."""
    version = protocol.metric_definition(result, m["metric"]) if "metric" in m else 1
    return m if version == 1 else {**m, "settings": {**m["settings"], "definition": version}}


def _disagreements(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys both protocols record with different values (a dataset one run left out with
    --only is no difference)."""
    return [f"{k} {a[k]!r} vs {b[k]!r}" for k in a if k in b and a[k] != b[k]]


def protocol_groups(entries: list[Entry]) -> tuple[list[int | None], list[str]]:
    """Each entry's protocol group (None for published rows) and, when rows were made
    under more than one protocol, a footnote per later group naming how it differs from
    P1 (rows are marked P1, P2, ...); no marks when all agree."""
    firsts: list[dict[str, Any]] = []
    group_of: list[int | None] = []
    for e in entries:
        if e.run == PUBLISHED:
            group_of.append(None)
            continue
        index = next((i for i, p in enumerate(firsts) if not _disagreements(p, e.protocol)), None)
        if index is None:
            firsts.append(e.protocol)
            index = len(firsts) - 1
        group_of.append(index)
    if len(firsts) < 2:
        return [None if g is None else 0 for g in group_of], []
    notes = [
        f"P{i}: protocol differs from P1: " + "; ".join(_disagreements(firsts[0], p))
        for i, p in enumerate(firsts[1:], 2)
    ]
    return group_of, notes


PUBLISHED = "published"


def published_entries(entry: Entry) -> list[Entry]:
    """The published numbers a model's run was held against, as a row of their own
    ("<model> (published)", sorted right below ours), each cell footnoted with its source
    so that it is never bolded against, or mistaken for, a ganbench measurement."""
    by_source: dict[str, Entry] = {}
    for v in entry.references:
        if v["ours"]["mean"] is None:  # not measured in this run (--only, a failed job)
            continue
        pub = v["published"]
        _, dataset, key = v["target"].split("/")
        ours = entry.metrics.get((dataset, key), {})
        spread, kind = (pub["sem"], "s.e.") if pub["sem"] is not None else (pub["std"], "std")
        row = by_source.setdefault(
            pub["source"],
            Entry(f"{entry.model} ({PUBLISHED})", PUBLISHED, pub["source"], "", {}),
        )
        row.metrics[(dataset, key)] = {
            "mean": pub["mean"],
            "std": spread,
            "n": pub["n"] or 0,  # unknown: the cell shows the mean alone, without (n=...)
            "unit": ours.get("unit", ""),
            "higher_is_better": ours.get("higher_is_better", True),
            "settings": {
                PUBLISHED: pub["source"],
                "spread": kind if spread is not None else "none given",
                "our verdict": v["verdict"],
            },
        }
    return list(by_source.values())


def _settings_key(m: dict[str, Any]) -> str:
    return json.dumps(m["settings"], sort_keys=True)


def render(entries: list[Entry], suite: str, fmt: str) -> str:
    if fmt not in LEADERBOARD_FORMATS:
        raise GanbenchError(f"--format {fmt}: valid formats: {', '.join(LEADERBOARD_FORMATS)}")
    columns = list(dict.fromkeys(col for e in entries for col in e.metrics))
    if fmt == "csv":
        return _csv(entries, columns)
    # One footnote per distinct settings; a column whose rows differ carries several markers.
    footnotes: dict[str, str] = {}  # settings json -> marker
    for col in columns:
        for e in entries:
            if col in e.metrics:
                footnotes.setdefault(_settings_key(e.metrics[col]), str(len(footnotes) + 1))
    groups, protocol_notes = protocol_groups(entries)
    body = []
    for e, group in zip(entries, groups, strict=True):
        mark = f" (P{group + 1})" if protocol_notes and group is not None else ""
        row = [escape(e.model + mark, fmt)]
        for col in columns:
            m = e.metrics.get(col)
            if m is None:
                row.append("")
                continue
            runs = f" (n={m['n']})" if m["n"] else ""
            text = cell(m, fmt) + f"{runs} [{footnotes[_settings_key(m)]}]"
            if e.run != PUBLISHED and _is_best(m, col, entries, groups):
                text = BOLD[fmt].format(text)
            row.append(text)
        body.append([*row, *(escape(x, fmt) for x in (e.run, e.machine, e.commit))])
    headers = (
        ["model"]
        + [
            f"{escape(d, fmt)} {header(k, column_direction(col, entries), fmt)}"
            for col in columns
            for d, k in [col]
        ]
        + ["run", "machine", "commit"]
    )
    table = tabulate(body, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)
    title = f"ganbench leaderboard: {escape(suite, fmt)}"
    notes = (
        "mean ± std over seeds (n seeds); [k]: the settings it was measured with; "
        "bold: best among rows measured with the same settings."
    )
    footnotes_text = (
        [
            f"[{mark}] "
            + escape(", ".join(f"{k}={v}" for k, v in json.loads(variant).items()) or "-", fmt)
            for variant, mark in footnotes.items()
        ]
        + [escape(note, fmt) for note in protocol_notes]
        + [
            escape(f"{MARK} {e.model}/{dataset}/{key}: {caveat}", fmt)
            for e in entries
            for (dataset, key), m in e.metrics.items()
            for caveat in caveats(m)
        ]
    )
    if fmt == "md":
        return (
            "\n".join([f"# {title}", "", table, "", notes, "", *[f"- {f}" for f in footnotes_text]])
            + "\n"
        )
    if fmt == "html":
        items = "".join(f"<li>{f}</li>" for f in footnotes_text)
        return f"<h1>{title}</h1>\n{table}\n<p>{notes}</p>\n<ul>{items}</ul>\n"
    notes_tex = notes.replace("±", r"$\pm$")
    return (
        "\n".join([f"% {title}", table, f"% {notes_tex}", *[f"% {f}" for f in footnotes_text]])
        + "\n"
    )


def column_direction(col: tuple[str, str], entries: list[Entry]) -> bool:
    return next(e.metrics[col]["higher_is_better"] for e in entries if col in e.metrics)


def _is_best(
    m: dict[str, Any], col: tuple[str, str], entries: list[Entry], groups: list[int | None]
) -> bool:
    group_of = next(g for e, g in zip(entries, groups, strict=True) if e.metrics.get(col) is m)
    peers = [
        e.metrics[col]["mean"]
        for e, group in zip(entries, groups, strict=True)
        if col in e.metrics
        and e.run != PUBLISHED
        and _settings_key(e.metrics[col]) == _settings_key(m)
        and group == group_of
        and e.metrics[col]["mean"] is not None
    ]
    if m["mean"] is None or len(peers) < 2:
        return False
    return m["mean"] == (max(peers) if m["higher_is_better"] else min(peers))


def _csv(entries: list[Entry], columns: list[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "model",
            "dataset",
            "metric",
            "mean",
            "std",
            "n",
            "higher_is_better",
            "run",
            "machine",
            "commit",
            "settings",
        ]
    )
    for e in entries:
        for dataset, key in columns:
            m = e.metrics.get((dataset, key))
            if m is not None:
                writer.writerow(
                    [
                        *(escape(x, "csv") for x in (e.model, dataset, key)),
                        m["mean"],
                        m["std"],
                        m["n"],
                        m["higher_is_better"],
                        *(escape(x, "csv") for x in (e.run, e.machine, e.commit)),
                        escape(_settings_key(m), "csv"),
                    ]
                )
    return out.getvalue()
