"""Leaderboards from result files: one section per protocol, a quality table ranked by the
suite's primary metric, then a cost table with its machine.

A leaderboard answers "which model is best here, by how much, and does it match the
paper?" at a glance, so:
- rows of different protocols never share a table: each [budget], [budgets.NAME] and
  (asked for) --quick gets a section of its own;
- within a section, each cell is the newest value of that protocol: a run that measured
  fewer datasets or metrics does not hide what an older run of the same protocol
  measured (the runs column names every run a row's cells came from);
- a published number sits below our row with its verdict as a word in the cell;
- the best value per column is bold among the cells measured with the same settings,
  never a value timed on a busy machine;
- notes are said once: a line per distinct setting, a line per run and timed metric.
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

from ganbench import suite as suite_module
from ganbench.errors import GanbenchError
from ganbench.formatting import cell, escape, format_number
from ganbench.publishing.tables import FORMATS, header
from ganbench.results import protocol, references
from ganbench.results.files import job_parts
from ganbench.results.store import ResultsStore
from ganbench.runtime.conditions import MARK, busy, caveats, load_sensitive
from ganbench.suite import Budget

LEADERBOARD_FORMATS = ("md", "csv", "latex", "html")
BOLD = {"md": "**{}**", "latex": r"\textbf{{{}}}", "html": "<b>{}</b>"}
#: The section of a suite's [budget]; named budgets are "budgets.NAME".
DEFAULT_SECTION = "budget"
PUBLISHED = "published"
#: The metric whose values are costs (time, memory), shown apart from quality.
COST_METRIC = "throughput"

Column = tuple[str, str]  # (dataset, key)


@dataclass
class Entry:
    model: str
    run: str  # the newest run a cell came from (PUBLISHED for a paper's row)
    machine: str
    commit: str
    metrics: dict[Column, dict[str, Any]]  # MetricResult per cell
    #: Verdicts on published numbers for this model's cells (result.json "references").
    references: list[dict[str, Any]] = field(default_factory=list)
    #: What the row was trained and measured under besides its model (protocol.py).
    protocol: dict[str, Any] = field(default_factory=dict)
    section: str = DEFAULT_SECTION
    #: The run each cell came from.
    sources: dict[Column, str] = field(default_factory=dict)
    #: A published row's verdict per cell, and why (the statistic, or what differs).
    verdicts: dict[Column, str] = field(default_factory=dict)
    reasons: dict[Column, str] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        return sorted(set(self.sources.values()), reverse=True) or [self.run]


def section_of(result: dict[str, Any]) -> str:
    suite = result["suite"]
    if suite.get("quick"):
        return "quick"
    name = suite.get("budget_name")
    return f"budgets.{name}" if name else DEFAULT_SECTION


def collect(
    results_dir: Path,
    suite: str,
    include_quick: bool = False,
    results: list[dict[str, Any]] | None = None,
) -> list[Entry]:
    """A row per (section, model): each cell from the newest complete run of that section
    that measured it under the row's protocol (that of the model's newest run; an older
    definition's values are superseded, not mixed in). Quick runs, and reruns on other
    seeds than the budget's (`--seeds`: a CI gate's, one seed), are only used if asked.
    `results`: every run's result, already loaded (a site builds every suite's board).
    The suite file's [[references]], where its file is found by name, are judged on each
    row's cells whose run has no verdict (a published row added after the run was made)."""
    if results is None:
        results = [r for _, r in ResultsStore(results_dir).loaded()]
    loaded = []
    for r in results:
        if r["suite"]["name"] != suite or not r.get("complete"):
            continue
        if (r["suite"].get("quick") or r["suite"].get("seeds")) and not include_quick:
            continue
        loaded.append(r)
    loaded.sort(key=lambda r: protocol.instant(r["datetime"]), reverse=True)
    rows: dict[tuple[str, str], Entry] = {}
    failed: dict[str, str] = {}  # model -> its newest failed run, if newer than any result
    for r in loaded:
        for job in (r.get("jobs") or {}).get("failed") or {}:
            model = job_parts(job)[0]
            if model not in r["results"] and not any(m == model for _, m in rows):
                failed.setdefault(model, r["run"])
        for model, datasets in r["results"].items():
            _merge(rows, r, model, datasets)
    if not rows:
        raise GanbenchError(
            f"{results_dir}: no complete{'' if include_quick else ' full'} run of "
            f"suite {suite!r}; run `ganbench run suites/{suite}` first"
            + ("" if include_quick else " (or pass --include-quick)")
        )
    for model, run in sorted(failed.items()):
        shown = [e.run for (_, m), e in rows.items() if m == model]
        if shown:
            print(
                f"ganbench: warning: {model}: its newest run {run} failed; the leaderboard "
                f"shows its last run with results, {shown[0]}",
                file=sys.stderr,
            )
    entries = sorted(rows.values(), key=lambda e: (e.section, e.model))
    found = suite_module.by_name(suite)  # results outlive their suite files
    for entry in entries:
        judge(entry, found)
    return entries + [p for e in entries for p in published_entries(e)]


def judge(entry: Entry, found: suite_module.Suite | None) -> None:
    """The row's verdicts under today's rule: those its runs recorded under an older rule
    judged again (references.rejudge), and one for each reference the suite file
    declares on a cell that its run did not judge (a published row added after the run
    was made): the verdict a run of today's suite file would record on those values."""
    declared = {r.target: r for r in (found.references if found else ())}
    trained = Budget(entry.protocol["budget.steps"], entry.protocol["budget.batch_size"], ())
    section = None if entry.section == DEFAULT_SECTION else entry.section

    def paper(target: str) -> Budget | None:
        ref = declared.get(target)
        return found.budget_of(ref) if found and ref else found.budget if found else None

    judged = []
    for stored in entry.references:
        _, dataset, key = stored["target"].split("/", 2)
        cell = entry.metrics.get((dataset, key))
        judged.append(references.rejudge(stored, cell, trained, section, paper(stored["target"])))
    entry.references = judged
    seen = {v["target"] for v in judged}
    for ref in declared.values():
        cell = entry.metrics.get((ref.dataset, ref.metric))
        if ref.model == entry.model and ref.target not in seen and cell is not None:
            results = {ref.model: {ref.dataset: {ref.metric: cell}}}
            verdict = references.verdict(ref, results, trained, found.budget_of(ref))
            entry.references.append(verdict.to_dict())


def _merge(
    rows: dict[tuple[str, str], Entry], r: dict[str, Any], model: str, datasets: dict
) -> None:
    """Adds run `r`'s cells of `model` that its row does not have yet (runs come newest
    first)."""
    section, run_protocol_ = section_of(r), row_protocol(r, datasets)
    row = rows.get((section, model))
    if row is None:
        m = r["machine_info"]
        row = rows[(section, model)] = Entry(
            model,
            r["run"],
            m.get("gpu") or f"cpu {m.get('machine')}",
            r["commit_info"]["id"][:8],
            {},
            protocol=run_protocol_,
            section=section,
        )
    elif _disagreements(row.protocol, run_protocol_):
        return
    else:
        row.protocol = run_protocol_ | row.protocol
    for dataset, metrics in datasets.items():
        for key, value in metrics.items():
            if (dataset, key) in row.metrics:
                continue
            row.metrics[(dataset, key)] = _with_definition(r, value)
            row.sources[(dataset, key)] = r["run"]
            target = f"{model}/{dataset}/{key}"
            row.references += [v for v in r.get("references", []) if v["target"] == target]


def row_protocol(result: dict[str, Any], datasets: dict[str, Any]) -> dict[str, Any]:
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


def published_entries(entry: Entry) -> list[Entry]:
    """The published numbers a model's cells were held against, as a row of their own
    ("<model> (published)", right below ours), each cell with its verdict."""
    by_source: dict[str, Entry] = {}
    for v in entry.references:
        if v["ours"]["mean"] is None:  # not measured in this run (--only, a failed job)
            continue
        pub = v["published"]
        _, dataset, key = v["target"].split("/")
        ours = entry.metrics.get((dataset, key), {})
        row = by_source.setdefault(
            pub["source"],
            Entry(
                f"{entry.model} ({PUBLISHED})",
                PUBLISHED,
                pub["source"],
                "",
                {},
                section=entry.section,
            ),
        )
        sem = pub.get("sem")
        row.metrics[(dataset, key)] = {
            "mean": pub["mean"],
            "std": sem if sem is not None else pub.get("std"),
            "n": pub.get("n") or 0,
            "unit": ours.get("unit", ""),
            "higher_is_better": ours.get("higher_is_better", True),
            "settings": {"spread": "s.e." if sem is not None else "std"},
        }
        row.verdicts[(dataset, key)] = v["verdict"]
        row.reasons[(dataset, key)] = v["statistic"]
    return list(by_source.values())


def _settings_key(m: dict[str, Any]) -> str:
    return json.dumps(m["settings"], sort_keys=True)


def _measured_alike(m: dict[str, Any]) -> str:
    """The settings that make two values of a column comparable: how they were measured,
    not how the model was trained (the `training` a measurement records is the row's)."""
    return json.dumps({k: v for k, v in m["settings"].items() if k != "training"}, sort_keys=True)


def one_measurement(m: dict[str, Any]) -> bool:
    """A value measured once for several seeds: seeds trained as one ensemble are timed
    together, and each seed records that one timing (its std of 0 says nothing)."""
    return m.get("metric") == COST_METRIC and (m["settings"].get("ensemble") or 1) > 1


def timed_busy(m: dict[str, Any]) -> bool:
    conditions = (m.get("conditions") or {}).values()
    return load_sensitive(m) and any(isinstance(c, dict) and busy(c) for c in conditions)


@dataclass
class _Notes:
    """The notes below a leaderboard, each said once."""

    fmt: str
    settings: dict[str, str] = field(default_factory=dict)  # settings json -> marker
    #: (run, key) -> (the loads its busy timings saw, the CPUs)
    timing: dict[tuple[str, str], tuple[list[float], int]] = field(default_factory=dict)
    other: dict[str, None] = field(default_factory=dict)

    def marker(self, m: dict[str, Any]) -> str:
        return self.settings.setdefault(_settings_key(m), str(len(self.settings) + 1))

    def observe(self, e: Entry, col: Column, m: dict[str, Any]) -> None:
        """Remembers a cell's caveats: busy timings per (run, key), the rest per cell."""
        if timed_busy(m):
            key = (e.sources.get(col, e.run), col[1])
            timed = [c for c in m["conditions"].values() if isinstance(c, dict) and busy(c)]
            loads, _ = self.timing.get(key, ([], 0))
            self.timing[key] = (loads + [c["load_average"] for c in timed], timed[-1]["cpu_count"])
        for caveat in caveats(m):
            if not caveat.endswith("(busy: not comparable)"):
                self.other[f"{e.model}/{col[0]}/{col[1]}: {caveat}"] = None

    def lines(self, protocol_notes: list[str]) -> list[str]:
        fmt = self.fmt
        out = [
            f"[{mark}] "
            + escape(", ".join(f"{k}={v}" for k, v in json.loads(variant).items()) or "-", fmt)
            for variant, mark in self.settings.items()
        ]
        out += [escape(note, fmt) for note in protocol_notes]
        for (run, key), (loads, cpus) in self.timing.items():
            span = f"{min(loads):.1f}" + (
                f"–{max(loads):.1f}" if max(loads) - min(loads) >= 0.05 else ""
            )
            out.append(
                escape(
                    f"{MARK} run {run}, {key}: timed at load {span} on {cpus} CPUs "
                    "(busy: not comparable, never bold)",
                    fmt,
                )
            )
        out += [escape(f"{MARK} {line}", fmt) for line in self.other]
        return out


def render(entries: list[Entry], suite: str, fmt: str, primary: str | None = None) -> str:
    if fmt not in LEADERBOARD_FORMATS:
        raise GanbenchError(f"--format {fmt}: valid formats: {', '.join(LEADERBOARD_FORMATS)}")
    if fmt == "csv":
        return _csv(entries)
    notes = _Notes(fmt)
    sections = sorted(
        {e.section for e in entries}, key=lambda s: (s != DEFAULT_SECTION, s == "quick", s)
    )
    parts: list[tuple[str, str]] = []  # (heading, table)
    protocol_notes: list[str] = []
    for section in sections:
        rows = [e for e in entries if e.section == section]
        columns = list(dict.fromkeys(col for e in rows for col in e.metrics))
        cost = [c for c in columns if _metric_of(c, rows) == COST_METRIC]
        quality = [c for c in columns if c not in cost]
        ours = [e for e in rows if e.run != PUBLISHED]
        groups, group_notes = protocol_groups(ours)
        group_of = dict(zip(map(id, ours), groups, strict=True))
        # ranked within each protocol: a row trained otherwise is never ranked above
        ours = sorted(ranked(ours, quality, primary), key=lambda e: group_of[id(e)])
        protocol_notes += [f"{section}: {note}" for note in group_notes]
        protocol_notes += [  # a verdict that is not a test says why in words
            f"{e.model}, {col[0]} {col[1]}: {verdict}: {e.reasons[col]}"
            for e in rows
            for col, verdict in e.verdicts.items()
            if verdict in ("NOT COMPARABLE", "INCONCLUSIVE")
        ]
        marks = {i: f" (P{g + 1})" if group_notes else "" for i, g in group_of.items()}
        ordered = [
            row
            for e in ours
            for row in [e, *(p for p in rows if p.model == f"{e.model} ({PUBLISHED})")]
        ]
        label = escape(section, fmt)
        if quality:
            parts.append(
                (
                    f"{label}: quality",
                    _table(ordered, quality, fmt, notes, marks, group_of, "runs / source"),
                )
            )
        if cost:
            machines = ", ".join(
                sorted({e.machine for e in ours if any(c in e.metrics for c in cost)})
            )
            parts.append(
                (
                    f"{label}: cost on {escape(machines, fmt)}",
                    _table(ours, cost, fmt, notes, marks, group_of, "machine"),
                )
            )
    title = f"ganbench leaderboard: {escape(suite, fmt)}"
    legend = (
        "mean ± std over seeds (n seeds), ranked by "
        f"{escape(primary or 'the first metric', fmt)}; [k]: the settings it was measured "
        "with; bold: best among rows measured with the same settings; a published row "
        "gives the paper's number and our verdict on it."
    )
    footnotes = notes.lines(protocol_notes)
    if fmt == "md":
        body = [f"# {title}", ""]
        for heading, table in parts:
            body += [f"## {heading}", "", table, ""]
        return "\n".join([*body, legend, "", *[f"- {f}" for f in footnotes]]) + "\n"
    if fmt == "html":
        sections_html = "".join(f"<h2>{h}</h2>\n{t}\n" for h, t in parts)
        items = "".join(f"<li>{f}</li>" for f in footnotes)
        return f"<h1>{title}</h1>\n{sections_html}<p>{legend}</p>\n<ul>{items}</ul>\n"
    legend_tex = legend.replace("±", r"$\pm$")
    body = [f"% {title}"]
    for heading, table in parts:
        body += [f"% {heading}", table]
    return "\n".join([*body, f"% {legend_tex}", *[f"% {f}" for f in footnotes]]) + "\n"


def _metric_of(col: Column, rows: list[Entry]) -> str | None:
    return next((e.metrics[col].get("metric") for e in rows if col in e.metrics), None)


def ranked(entries: list[Entry], quality: list[Column], primary: str | None) -> list[Entry]:
    """Entries best first by the primary metric (a key or a metric name; the first quality
    column's if None) on the first dataset that has it, among the values measured with its
    usual settings; rows measured otherwise after them, and rows without it last."""
    column = next((c for c in quality if primary in (None, c[1], _metric_of(c, entries))), None)
    if column is None:
        return entries

    measured = [_measured_alike(e.metrics[column]) for e in entries if column in e.metrics]
    usual = max(measured, key=measured.count)  # other settings are not ranked against it

    def key(e: Entry) -> tuple[bool, bool, float]:
        m = e.metrics.get(column)
        if m is None or m["mean"] is None:
            return (True, True, 0.0)
        value = -m["mean"] if m["higher_is_better"] else m["mean"]
        return (False, _measured_alike(m) != usual, value)

    return sorted(entries, key=key)


def protocol_groups(entries: list[Entry]) -> tuple[list[int], list[str]]:
    """Each entry's protocol group and, when rows were made under more than one protocol
    (the same budget name, other model parameters), a note per later group naming how it
    differs from P1; no notes when all agree."""
    firsts: list[dict[str, Any]] = []
    group_of: list[int] = []
    for e in entries:
        index = next((i for i, p in enumerate(firsts) if not _disagreements(p, e.protocol)), None)
        if index is None:
            firsts.append(e.protocol)
            index = len(firsts) - 1
        group_of.append(index)
    if len(firsts) < 2:
        return [0] * len(entries), []
    notes = [
        f"P{i}: protocol differs from P1: " + "; ".join(_disagreements(firsts[0], p))
        for i, p in enumerate(firsts[1:], 2)
    ]
    return group_of, notes


def _table(
    rows: list[Entry],
    columns: list[Column],
    fmt: str,
    notes: _Notes,
    marks: dict[int, str],
    groups: dict[int, int],
    last: str,
) -> str:
    body = []
    for e in rows:
        published = e.run == PUBLISHED
        row = [escape(e.model + marks.get(id(e), ""), fmt)]
        for col in columns:
            m = e.metrics.get(col)
            if m is None:
                row.append("")
                continue
            if published:
                row.append(_published_cell(m, e.verdicts[col], fmt))
                continue
            notes.observe(e, col, m)
            text = _value(m, fmt) + f" [{notes.marker(m)}]"
            if _is_best(m, col, rows, groups):
                text = BOLD[fmt].format(text)
            row.append(text)
        tail = e.machine if published or last == "machine" else ", ".join(e.runs)
        body.append([*row, escape(tail, fmt)])
    headers = [
        "model",
        *(
            f"{escape(d, fmt)} {header(k, column_direction(col, rows), fmt)}"
            for col in columns
            for d, k in [col]
        ),
        last,
    ]
    return tabulate(body, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)


def _value(m: dict[str, Any], fmt: str) -> str:
    """mean ± std (n=N); a single measurement for several seeds shows n = 1, never ± 0."""
    if one_measurement(m):
        return cell({**m, "n": 1}, fmt) + " (n = 1)"
    return cell(m, fmt) + (f" (n={m['n']})" if m["n"] else "")


def _published_cell(m: dict[str, Any], verdict: str, fmt: str) -> str:
    """The paper's number with its spread, and our verdict on it as a word."""
    spread = ""
    if m["std"] is not None:
        pm = r"$\pm$" if fmt == "latex" else "±"
        kind = " s.e." if m["settings"].get("spread") == "s.e." else ""
        spread = f" {pm} {format_number(m['std'])}{kind}"
    runs = f" (n={m['n']})" if m["n"] else ""
    dot = r"$\cdot$" if fmt == "latex" else "·"
    return f"{format_number(m['mean'])}{spread}{runs} {dot} {escape(verdict, fmt)}"


def column_direction(col: Column, entries: list[Entry]) -> bool:
    return next(e.metrics[col]["higher_is_better"] for e in entries if col in e.metrics)


def _is_best(m: dict[str, Any], col: Column, rows: list[Entry], groups: dict[int, int]) -> bool:
    """Best of its column among rows of one protocol measured with the same settings; a
    value timed on a busy machine is never best, nor counted."""
    if m["mean"] is None or timed_busy(m):
        return False
    owner = next(e for e in rows if e.metrics.get(col) is m)
    peers = [
        e.metrics[col]["mean"]
        for e in rows
        if col in e.metrics
        and e.run != PUBLISHED
        and groups.get(id(e)) == groups.get(id(owner))
        and _measured_alike(e.metrics[col]) == _measured_alike(m)
        and e.metrics[col]["mean"] is not None
        and not timed_busy(e.metrics[col])
    ]
    if len(peers) < 2:
        return False
    return m["mean"] == (max(peers) if m["higher_is_better"] else min(peers))


def _csv(entries: list[Entry]) -> str:
    """One line per cell, with its section and the run it came from (or the paper's source
    and our verdict)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "section",
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
            "verdict",
        ]
    )
    for e in entries:
        for (dataset, key), m in e.metrics.items():
            writer.writerow(
                [
                    e.section,
                    *(escape(x, "csv") for x in (e.model, dataset, key)),
                    m["mean"],
                    m["std"],
                    1 if one_measurement(m) else m["n"],
                    m["higher_is_better"],
                    escape(e.sources.get((dataset, key), e.run), "csv"),
                    escape(e.machine, "csv"),
                    e.commit,
                    escape(_settings_key(m), "csv"),
                    e.verdicts.get((dataset, key), ""),
                ]
            )
    return out.getvalue()
