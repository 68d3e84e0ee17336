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
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from ganbench import suite as suite_module
from ganbench.errors import GanbenchError
from ganbench.formatting import cell, csv_row, escape, format_number, measured, warn
from ganbench.publishing.tables import (
    FORMATS,
    arrow,
    auxiliary,
    display_name,
    metric_name,
    readable,
)
from ganbench.results import protocol, references
from ganbench.results.files import job_model
from ganbench.results.store import ResultsStore
from ganbench.runtime.conditions import MARK, busy, caveats, load_sensitive, load_span
from ganbench.suite import Budget

LEADERBOARD_FORMATS = ("md", "csv", "latex", "html")
BOLD = {"md": "**{}**", "latex": r"\textbf{{{}}}", "html": "<b>{}</b>"}
#: The section of a suite's [budget]; named budgets are "budgets.NAME".
DEFAULT_SECTION = "budget"
PUBLISHED = "published"
#: Metric columns a table holds before the next ones go to a table of their own (a
#: diagnostics suite measures a dozen): 1280 px hold this many without cutting one off.
COLUMNS_PER_TABLE = 6
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
    #: What it ran on, in words: "2-core x86_64 CPU", or the GPU.
    hardware: str = ""
    #: Samples the model draws per step and batch element (PacGAN's packing), which its
    #: throughput counts.
    packing: int = 1
    #: The folder of the newest run a row's cells came from (None for a published row):
    #: run numbers of different machines collide once their results are merged.
    folder: Path | None = None

    def runs(self, columns: list[Column]) -> list[str]:
        """The runs its cells in `columns` came from, newest first."""
        found = {self.sources.get(c, self.run) for c in columns if c in self.metrics}
        return sorted(found, reverse=True) or [self.run]


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
    results: list[tuple[Path, dict[str, Any]]] | None = None,
) -> list[Entry]:
    """A row per (section, model): each cell from the newest complete run of that section
    that measured it under the row's protocol (that of the model's newest run; an older
    definition's values are superseded, not mixed in). Quick runs, and reruns on other
    seeds than the budget's (`--seeds`: a CI gate's, one seed), are only used if asked.
    `results`: every run's (folder, result), already loaded (a site builds every suite's
    board).
    The suite file's [[references]], where its file is found by name, are judged on each
    row's cells whose run has no verdict (a published row added after the run was made)."""
    if results is None:
        results = list(ResultsStore(results_dir).loaded())
    loaded = []
    for folder, r in results:
        if r["suite"]["name"] != suite or not r.get("complete"):
            continue
        if (r["suite"].get("quick") or r["suite"].get("seeds")) and not include_quick:
            continue
        loaded.append((folder, r))
    loaded.sort(key=lambda item: protocol.instant(item[1]["datetime"]), reverse=True)
    rows: dict[tuple[str, str], Entry] = {}
    failed: dict[str, str] = {}  # model -> its newest failed run, if newer than any result
    for folder, r in loaded:
        for job in (r.get("jobs") or {}).get("failed") or {}:
            model = job_model(job)
            if model not in r["results"] and not any(m == model for _, m in rows):
                failed.setdefault(model, r["run"])
        for model, datasets in r["results"].items():
            _merge(rows, r, model, datasets, folder)
    if not rows:
        raise GanbenchError(
            f"{results_dir}: no complete{'' if include_quick else ' full'} run of "
            f"suite {suite!r}; run `ganbench run suites/{suite}` first"
            + ("" if include_quick else " (or pass --include-quick)")
        )
    for model, run in sorted(failed.items()):
        shown = [e.run for (_, m), e in rows.items() if m == model]
        if shown:
            warn(
                f"{model}: its newest run {run} failed; the leaderboard shows its last run "
                f"with results, {shown[0]}"
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
        parts = stored["target"].split("/")
        cell = entry.metrics.get((parts[1], parts[2])) if len(parts) == 3 else None
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
    rows: dict[tuple[str, str], Entry], r: dict[str, Any], model: str, datasets: dict, folder: Path
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
            hardware=hardware(m),
            folder=folder,
        )
        params = (protocol.component(r, "models", model) or {}).get("params", {})
        if isinstance(params.get("packing"), int) and params["packing"] > 0:
            row.packing = params["packing"]
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


def hardware(machine_info: dict[str, Any]) -> str:
    """What a run trained on, in words: its GPU, or "2-core x86_64 CPU"."""
    if gpu := machine_info.get("gpu"):
        return str(gpu)
    cores = machine_info.get("cpu_count")
    cpu = machine_info.get("cpu") or machine_info.get("machine") or ""
    return " ".join(x for x in (f"{cores}-core" if cores else "", str(cpu), "CPU") if x)


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
    # A target is MODEL/DATASET/KEY, and a name from a file may hold a "/": the target is
    # matched against the row's own cells, never split.
    cells = {f"{entry.model}/{d}/{k}": (d, k) for d, k in entry.metrics}
    for v in entry.references:
        if v["ours"]["mean"] is None or v["target"] not in cells:  # not measured here
            continue
        pub = v["published"]
        dataset, key = cells[v["target"]]
        ours = entry.metrics[(dataset, key)]
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
            "metric": ours.get("metric"),
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
    together, and each seed records that one timing (its std of 0 says nothing). Runs made
    before throughput recorded the ensemble's size (run 0002) show it as per-seed values
    equal to the last digit, which separate timings never are."""
    if m.get("metric") != COST_METRIC:
        return False
    if (m["settings"].get("ensemble") or 1) > 1:
        return True
    values = list((m.get("per_seed") or {}).values())
    return m["n"] > 1 and len(values) > 1 and None not in values and len(set(values)) == 1


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
    other: dict[str, dict[str, None]] = field(default_factory=dict)  # caveat -> values
    one_timing: bool = False

    def marker(self, m: dict[str, Any]) -> str:
        return self.settings.setdefault(_settings_key(m), str(len(self.settings) + 1))

    def observe(self, e: Entry, col: Column, m: dict[str, Any], dataset: str = "") -> None:
        """Remembers a cell's caveats: busy timings per (run, key), the rest per cell (a
        cost table's column has no dataset: its row's, `dataset`)."""
        self.one_timing |= one_measurement(m)
        if timed_busy(m):
            key = (e.sources.get(col, e.run), col[1])
            timed = [c for c in m["conditions"].values() if isinstance(c, dict) and busy(c)]
            loads, _ = self.timing.get(key, ([], 0))
            self.timing[key] = (loads + [c["load_average"] for c in timed], timed[-1]["cpu_count"])
        for caveat in caveats(m, busy_seeds=False):
            self.other.setdefault(caveat, {})[f"{e.model}/{col[0] or dataset}/{col[1]}"] = None

    def lines(self, protocol_notes: list[str]) -> list[str]:
        fmt = self.fmt
        out = [
            f"[{mark}] " + escape(readable(json.loads(variant)) or "-", fmt)
            for variant, mark in self.settings.items()
        ]
        out += [escape(note, fmt) for note in protocol_notes]
        if self.one_timing:
            out.append(
                "n = 1 in a cost column: the seeds trained as one ensemble, timed once "
                "(each seed records that one timing)"
            )
        for (run, key), (loads, cpus) in self.timing.items():
            out.append(
                escape(
                    f"{MARK} run {run}, {key}: timed at load {load_span(loads)} on {cpus} "
                    "CPUs (busy: not comparable, never bold)",
                    fmt,
                )
            )
        out += [
            escape(f"{MARK} {', '.join(where)}: {caveat}", fmt)
            for caveat, where in self.other.items()
        ]
        return out


@dataclass
class _Table:
    """What one table shows: its rows (ours ranked, each followed by its published rows),
    its columns (the ranking one first) and the groups bold is decided within."""

    rows: list[Entry]
    columns: list[Column]
    groups: dict[int, Any]
    marks: dict[int, str]
    last: str  # the last column: "run / source" or "machine"
    ranking: Column | None = None
    #: The dataset column of a cost table that spans datasets: row id -> dataset.
    datasets: dict[int, str] = field(default_factory=dict)


def render(
    entries: list[Entry],
    suite: str,
    fmt: str,
    primary: str | None = None,
    all_keys: bool = False,
) -> str:
    """The leaderboard in `fmt`: per section (protocol) a summary in words, a quality table
    per dataset ranked by the primary metric (first column), a cost table with its
    machine, then the notes said once. `all_keys`: also the auxiliary keys (IS's std over
    splits), which a reader does not rank by."""
    if fmt not in LEADERBOARD_FORMATS:
        raise GanbenchError(f"--format {fmt}: valid formats: {', '.join(LEADERBOARD_FORMATS)}")
    if fmt == "csv":
        return _csv(entries)
    notes = _Notes(fmt)
    sections = sorted(
        {e.section for e in entries}, key=lambda s: (s != DEFAULT_SECTION, s == "quick", s)
    )
    blocks: list[tuple[int, str, str]] = []  # (heading level, heading, html/md/latex body)
    primary_name = None  # what the first table is ranked by, as a reader knows it
    protocol_notes: list[str] = []
    for section in sections:
        rows = [e for e in entries if e.section == section]
        ours = [e for e in rows if e.run != PUBLISHED]
        columns = list(dict.fromkeys(col for e in rows for col in e.metrics))
        cost = [c for c in columns if _metric_of(c, rows) == COST_METRIC]
        quality = [c for c in columns if c not in cost and (all_keys or not _auxiliary(c, rows))]
        groups, group_notes = protocol_groups(ours)
        group_of = dict(zip(map(id, ours), groups, strict=True))
        protocol_notes += [f"{section}: {note}" for note in group_notes]
        protocol_notes += _verdict_notes(section, rows)
        marks = {i: f" (P{g + 1})" if group_notes else "" for i, g in group_of.items()}
        tables: list[tuple[str, _Table]] = []
        for dataset in dict.fromkeys(d for d, _ in quality):
            cols = [c for c in quality if c[0] == dataset]
            ranking = ranking_column(cols, primary, rows)
            if ranking is not None:
                cols = [ranking, *(c for c in cols if c != ranking)]
                primary_name = primary_name or metric_name(
                    ranking[1], _column_example(ranking, rows)
                )
            order = ranked(ours, cols, primary)
            order.sort(key=lambda e: group_of[id(e)])  # a row trained otherwise: after
            for start in range(0, len(cols), COLUMNS_PER_TABLE):
                part = cols[start : start + COLUMNS_PER_TABLE]
                shown = [e for e in order if any(c in e.metrics for c in part)]
                ordered = [row for e in shown for row in [e, *_published_rows(e, rows, part)]]
                heading = escape(dataset, fmt) + (" (continued)" if start else "")
                ranks = ranking if not start else None
                table = _Table(ordered, part, group_of, marks, "run / source", ranks)
                tables.append((heading, table))
        if cost:
            order = [e for _, t in tables for e in t.rows if e.run != PUBLISHED] + ours
            ours_ranked = list({id(e): e for e in order}.values())
            tables.append(_cost_table(ours_ranked, cost, group_of, marks, fmt))
        summary = _summary(rows, [t for _, t in tables if t.last != "machine"])
        blocks.append((2, f"{escape(section, fmt)}: {escape(_budget_words(ours), fmt)}", ""))
        blocks.append((0, "", escape(summary, fmt)))
        for heading, table in tables:
            blocks.append((3, heading, _table(table, fmt, notes)))
    title = f"ganbench leaderboard: {escape(suite, fmt)}"
    ranked_by = escape(primary_name or primary or "the first metric", fmt)
    legend = (
        f"Rows are ranked by {ranked_by}, the first column. A cell is our mean ± std over "
        "seeds (n seeds), rounded to what the spread supports; a published row under ours "
        "gives the paper's mean ± its s.e. or std over its n runs, and our verdict on it as "
        "a word. Bold: best among rows measured alike. [k]: the settings a column (or a "
        "cell marked apart) was measured with, below."
    )
    return _page(fmt, title, blocks, legend, notes.lines(protocol_notes))


def _page(
    fmt: str, title: str, blocks: list[tuple[int, str, str]], legend: str, footnotes: list[str]
) -> str:
    """The leaderboard's page in `fmt`: its title, each block (a heading of its level, or
    at level 0 a summary paragraph), the legend and the notes."""
    if fmt == "md":
        body = [f"# {title}", ""]
        for level, heading, text in blocks:
            body += [f"{'#' * level} {heading}", ""] if level else []
            body += [text, ""] if text else []
        return "\n".join([*body, legend, "", *[f"- {f}" for f in footnotes]]) + "\n"
    if fmt == "html":
        parts = [f"<h1>{title}</h1>"]
        for level, heading, text in blocks:
            if level == 0:
                parts.append(f'<p class="summary">{text}</p>')
            elif text:
                parts.append(f"<h{level}>{heading}</h{level}>\n{text}")
            else:
                parts.append(f"<h{level}>{heading}</h{level}>")
        items = "".join(f"<li>{f}</li>" for f in footnotes)
        return (
            "\n".join(parts) + f'\n<p class="legend">{legend}</p>\n<ul class="notes">{items}</ul>\n'
        )
    legend_tex = legend.replace("±", r"$\pm$")
    body = [f"% {title}"]
    for level, heading, text in blocks:
        body += [f"% {heading}", text] if level == 3 else [f"% {heading or text}"]
    return "\n".join([*body, f"% {legend_tex}", *[f"% {f}" for f in footnotes]]) + "\n"


def _summary(rows: list[Entry], tables: list[_Table]) -> str:
    """Two or three sentences from the section's tables: who ranks first by the primary
    metric and by how much (per dataset), what the papers report and our verdict in
    words, and on what machine, in how long."""
    ours = [e for e in rows if e.run != PUBLISHED]
    steps = next((e.protocol.get("budget.steps") for e in ours), None)
    at = f" at {steps:,} steps" if isinstance(steps, int) else ""
    sentences = []
    for table in tables:
        col = table.ranking
        if col is None:
            continue
        measured_rows = [
            e
            for e in table.rows
            if e.run != PUBLISHED and e.metrics.get(col, {}).get("mean") is not None
        ]
        if not measured_rows:
            continue
        name = metric_name(col[1], _column_example(col, rows))
        first, *rest = measured_rows
        n = first.metrics[col]["n"]
        lead = f"On {col[0]}{at}, "
        if rest:
            alike = _measured_alike(first.metrics[col])
            others = "; ".join(
                f"{e.model} {_plain(e.metrics[col])}"
                + (f" ({e.metrics[col]['n']} seeds)" if e.metrics[col]["n"] != n else "")
                + (" (other settings)" if _measured_alike(e.metrics[col]) != alike else "")
                for e in rest[:3]
            ) + ("; …" if len(rest) > 3 else "")
            sentences.append(
                f"{lead}{first.model} ranks first by {name}: {_plain(first.metrics[col])} "
                f"over {n} seed{'s' if n != 1 else ''}; {others}."
            )
        else:
            sentences.append(
                f"{lead}{first.model}: {name} {_plain(first.metrics[col])} over {n} "
                f"seed{'s' if n != 1 else ''}."
            )
        said: dict[tuple[str, str], list[str]] = {}
        for e in table.rows:
            if e.run == PUBLISHED and col in e.metrics:
                model = e.model.removesuffix(f" ({PUBLISHED})")
                phrase = _verdict_phrase(e.verdicts[col], e.reasons[col])
                said.setdefault((e.machine, phrase), []).append(
                    f"{_plain(e.metrics[col])} for {model}"
                )
        for (source, phrase), values in said.items():
            sentences.append(f"{source} reports {' and '.join(values)}: {phrase}.")
    if timing := _training_time(ours, tables):
        sentences.append(timing)
    return " ".join(sentences)


def _plain(m: dict[str, Any]) -> str:
    """A value as the summary says it, without notes: ours rounded to its spread, a
    paper's as the paper prints it."""
    if "spread" in m["settings"]:
        return quoted(m["mean"], m["std"])
    if one_measurement(m) or m["n"] <= 1:
        return measured(m["mean"], None)
    return measured(m["mean"], m["std"])


def quoted(mean: float, spread: float | None, pm: str = "±") -> str:
    """A published number as its paper prints it (`78.9 ± 6.46`): rounding it to our
    rule would misquote it."""
    return format_number(mean) + (f" {pm} {format_number(spread)}" if spread is not None else "")


def _verdict_phrase(verdict: str, reason: str) -> str:
    if verdict == "NOT COMPARABLE":
        if reason.startswith("the paper's protocol differs"):
            return "not comparable, another protocol"
        return f"not comparable, {reason}"
    return {
        "REPRODUCED": "reproduced",
        "DIFFERS": "ours differs",
        "INCONCLUSIVE": "inconclusive, too few or too noisy seeds to tell",
    }.get(verdict, verdict.lower())


def _training_time(ours: list[Entry], tables: list[_Table]) -> str:
    """`Trained on a 2-core x86_64 CPU: dcgan about 31 min a seed; mlp-gan about 5 min a
    seed`, from each row's budget and measured throughput: steps × batch × packing (the
    samples a step draws) ÷ samples per second, warm-up excluded; seeds trained as one
    ensemble are one job, each seed recording its share of the throughput."""
    dataset = next((t.ranking[0] for t in tables if t.ranking), None)
    shown = [e for t in tables for e in t.rows if e.run != PUBLISHED] + ours  # ranked first
    times = []
    for e in {id(e): e for e in shown}.values():
        m = e.metrics.get((dataset, "samples_per_second"))
        steps, batch = e.protocol.get("budget.steps"), e.protocol.get("budget.batch_size")
        if not m or not m["mean"] or not isinstance(steps, int) or not isinstance(batch, int):
            continue
        per = f"for its {m['n']} seeds together" if one_measurement(m) else "a seed"
        try:
            seconds = steps * batch * e.packing / m["mean"]
        except OverflowError:  # a hand-edited budget of 10**400 steps
            continue
        if not math.isfinite(seconds):  # or a throughput of 5e-324
            continue
        times.append(f"{e.model} about {duration(seconds)} {per}")
    if not times:
        return ""
    hardware = ", ".join(dict.fromkeys(e.hardware for e in ours))
    return f"Trained on a {hardware}: {'; '.join(times[:4])} (from the measured throughput)."


def duration(seconds: float) -> str:
    """`45 s`, `31 min`, `4 h 3 min`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"


def _auxiliary(col: Column, rows: list[Entry]) -> bool:
    m = next((e.metrics[col] for e in rows if col in e.metrics), {})
    return auxiliary(col[1], m)


def _published_rows(e: Entry, rows: list[Entry], cols: list[Column]) -> list[Entry]:
    return [
        p
        for p in rows
        if p.run == PUBLISHED
        and p.model == f"{e.model} ({PUBLISHED})"
        and any(c in p.metrics for c in cols)
    ]


def _cost_table(
    ours: list[Entry],
    cost: list[Column],
    group_of: dict[int, int],
    marks: dict[int, str],
    fmt: str,
) -> tuple[str, _Table]:
    """Throughput and memory, a row per model and dataset (the dataset a column of its own
    when there are several), with the machine; bold among one dataset's rows."""
    datasets = list(dict.fromkeys(d for d, _ in cost))
    keys = list(dict.fromkeys(k for _, k in cost))
    rows: list[Entry] = []
    groups: dict[int, Any] = {}
    row_marks: dict[int, str] = {}
    named: dict[int, str] = {}
    for dataset in datasets:
        for e in ours:
            cells = {("", k): e.metrics[(dataset, k)] for k in keys if (dataset, k) in e.metrics}
            if not cells:
                continue
            row = Entry(e.model, e.run, e.machine, e.commit, cells, section=e.section)
            row.sources = {("", k): e.sources.get((dataset, k), e.run) for k in keys}
            rows.append(row)
            groups[id(row)] = (group_of[id(e)], dataset)
            row_marks[id(row)] = marks.get(id(e), "")
            if len(datasets) > 1:
                named[id(row)] = dataset
    machines = ", ".join(sorted({e.machine for e in rows}))
    table = _Table(rows, [("", k) for k in keys], groups, row_marks, "machine", datasets=named)
    return f"cost on {escape(machines, fmt)}", table


def _budget_words(ours: list[Entry]) -> str:
    """`10,000 steps at batch 100` (the section's protocol: its runs agree on it)."""
    for e in ours:
        steps, batch = e.protocol.get("budget.steps"), e.protocol.get("budget.batch_size")
        if isinstance(steps, int) and isinstance(batch, int):
            return f"{steps:,} steps at batch {batch}"
    return "budget not recorded"


def _verdict_notes(section: str, rows: list[Entry]) -> list[str]:
    """Why a published value has no yes-or-no verdict, said once per reason: the models
    and metrics it covers, then the reason in words."""
    why: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
    for e in rows:
        for col, verdict in e.verdicts.items():
            if verdict in ("NOT COMPARABLE", "INCONCLUSIVE"):
                name = metric_name(col[1], _column_example(col, rows))
                cell = why.setdefault((verdict, e.reasons[col]), {"models": {}, "metrics": {}})
                cell["models"][e.model.removesuffix(f" ({PUBLISHED})")] = None
                cell["metrics"][f"{name} on {col[0]}"] = None
    return [
        f"{section}: {verdict} ({', '.join(cell['models'])}; {', '.join(cell['metrics'])}): "
        f"{reason}"
        for (verdict, reason), cell in why.items()
    ]


def _column_example(col: Column, rows: list[Entry]) -> dict[str, Any]:
    """A value of the column, ours before a published one (which records no settings)."""
    found = [e.metrics[col] for e in rows if col in e.metrics]
    return next((m for m in found if "metric" in m and "spread" not in m["settings"]), found[0])


def _metric_of(col: Column, rows: list[Entry]) -> str | None:
    return next((e.metrics[col].get("metric") for e in rows if col in e.metrics), None)


def ranking_column(quality: list[Column], primary: str | None, rows: list[Entry]) -> Column | None:
    """The column rows are ranked by: the primary metric's (a key or a metric name; the
    first quality column's if None)."""
    return next((c for c in quality if primary in (None, c[1], _metric_of(c, rows))), None)


def ranked(entries: list[Entry], quality: list[Column], primary: str | None) -> list[Entry]:
    """Entries best first by the primary metric (a key or a metric name; the first quality
    column's if None) on the first dataset that has it, among the values measured with its
    usual settings; rows measured otherwise after them, and rows without it last."""
    column = ranking_column(quality, primary, entries)
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


def _column_marker(col: Column, rows: list[Entry], notes: _Notes) -> str:
    """The settings marker of a column: those most of our cells were measured with (a cell
    measured otherwise carries its own)."""
    ours = [e.metrics[col] for e in rows if col in e.metrics and e.run != PUBLISHED]
    if not ours:
        return ""
    keys = [_settings_key(m) for m in ours]
    usual = max(keys, key=keys.count)
    return notes.marker(next(m for m in ours if _settings_key(m) == usual))


def _table(table: _Table, fmt: str, notes: _Notes) -> str:
    columns, rows = table.columns, table.rows
    markers = {col: _column_marker(col, rows, notes) for col in columns}
    headers = ["model"] + (["dataset"] if table.datasets else [])
    for col in columns:
        example = _column_example(col, rows)
        name = escape(display_name(col[1], example), fmt)
        mark = f" [{markers[col]}]" if markers[col] else ""
        headers.append(f"{name} {arrow(column_direction(col, rows), fmt)}{mark}")
    headers.append(table.last)
    body = []
    for e in rows:
        published = e.run == PUBLISHED
        row = [escape(e.model + table.marks.get(id(e), ""), fmt)]
        if table.datasets:
            row.append(escape(table.datasets.get(id(e), ""), fmt))
        for col in columns:
            m = e.metrics.get(col)
            if m is None:
                row.append("")
            elif published:
                row.append(_published_cell(m, e.verdicts[col], fmt))
            else:
                notes.observe(e, col, m, table.datasets.get(id(e), ""))
                own = notes.marker(m)
                mark = f" [{own}]" if own != markers[col] else ""
                best = _is_best(m, col, rows, table.groups)
                row.append(_our_cell(m, fmt, best, mark))
        tail = e.machine if published or table.last == "machine" else ", ".join(e.runs(columns))
        body.append([*row, escape(tail, fmt)])
    if fmt == "html":
        return _html_table(headers, body, table)
    return tabulate(body, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)


def _html_table(headers: list[str], body: list[list[str]], table: _Table) -> str:
    """A table whose ranking column, published rows and source column the stylesheet (and
    a browser test) can find by class; in a box that scrolls sideways on a narrow screen
    while the page does not."""
    first = 2 if table.datasets else 1  # the first metric column
    ranking = table.ranking is not None and table.columns[0] == table.ranking

    def css(i: int, last: int) -> str:
        if i == 0:
            return ' class="model"'
        if i == first and ranking:
            return ' class="primary"'
        return ' class="source"' if i == last else ""

    head = "".join(f"<th{css(i, len(headers) - 1)}>{h}</th>" for i, h in enumerate(headers))
    rows = []
    for e, cells in zip(table.rows, body, strict=True):
        kind = ' class="published"' if e.run == PUBLISHED else ""
        rows.append(
            f"<tr{kind}>"
            + "".join(f"<td{css(i, len(cells) - 1)}>{c}</td>" for i, c in enumerate(cells))
            + "</tr>"
        )
    return (
        f'<div class="table"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _our_cell(m: dict[str, Any], fmt: str, best: bool, mark: str) -> str:
    """`23.7 ± 1.5 (std, n = 3)`: the value rounded to its spread, what the spread is and
    over how many seeds; a single measurement for several seeds shows n = 1, never ± 0."""
    if one_measurement(m):
        value, note = cell({**m, "n": 1}, fmt), "n = 1"
    else:
        value = cell(m, fmt)
        spread = m["n"] > 1 and m["std"] is not None
        note = f"std, n = {m['n']}" if spread else f"n = {m['n']}" if m["n"] else ""
    return _compose(value, note, fmt, bold=best) + mark


def _published_cell(m: dict[str, Any], verdict: str, fmt: str) -> str:
    """The paper's number with its spread and n, and our verdict on it as a word."""
    pm = r"$\pm$" if fmt == "latex" else "±"
    value = quoted(m["mean"], m["std"], pm)
    kind = m["settings"].get("spread", "std") if m["std"] is not None else ""
    runs = f"n = {m['n']}" if m["n"] else ""
    note = ", ".join(x for x in (kind, runs) if x)
    return _compose(value, note, fmt, verdict=verdict)


VERDICT_CLASS = {
    "REPRODUCED": "reproduced",
    "DIFFERS": "differs",
    "INCONCLUSIVE": "inconclusive",
    "NOT COMPARABLE": "not-comparable",
}


def _compose(value: str, note: str, fmt: str, bold: bool = False, verdict: str = "") -> str:
    if fmt == "html":
        text = f'<span class="v">{BOLD["html"].format(value) if bold else value}</span>'
        text += f' <span class="n">{note}</span>' if note else ""
        if verdict:
            css = VERDICT_CLASS.get(verdict, "")
            text += f' <span class="verdict {css}">{escape(verdict, fmt)}</span>'
        return text
    text = BOLD[fmt].format(value) if bold else value
    text += f" ({note})" if note else ""
    if verdict:
        dot = r"$\cdot$" if fmt == "latex" else "·"
        text += f" {dot} {escape(verdict, fmt)}"
    return text


def column_direction(col: Column, entries: list[Entry]) -> bool:
    return next(e.metrics[col]["higher_is_better"] for e in entries if col in e.metrics)


def _is_best(m: dict[str, Any], col: Column, rows: list[Entry], groups: dict[int, Any]) -> bool:
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
    and our verdict); every text cell escaped (a result file's strings are never formulas)."""
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
                csv_row(
                    [
                        e.section,
                        e.model,
                        dataset,
                        key,
                        m["mean"],
                        m["std"],
                        1 if one_measurement(m) else m["n"],
                        m["higher_is_better"],
                        e.sources.get((dataset, key), e.run),
                        e.machine,
                        e.commit,
                        _settings_key(m),
                        e.verdicts.get((dataset, key), ""),
                    ]
                )
            )
    return out.getvalue()
