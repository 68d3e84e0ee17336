"""Result tables: terminal, markdown, CSV, LaTeX and HTML from one set of rows.

Cells read `mean ± std`; headers carry the unit and an arrow for the direction
that is better, so a reader never has to guess whether 0.4 is good.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from tabulate import tabulate

from ganbench.formatting import cell, csv_row, escape
from ganbench.registry import builtin_meta

FORMATS = {"terminal": "simple", "md": "github", "latex": "latex_raw", "html": "unsafehtml"}
ALL_FORMATS = (*FORMATS, "csv")


def metric_columns(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(key, unit, higher_is_better) for every metric, in first-seen order."""
    columns: dict[str, tuple[str, str, bool]] = {}
    for datasets in results.values():
        for metrics in datasets.values():
            for key, m in metrics.items():
                columns.setdefault(key, (key, m["unit"], m["higher_is_better"]))
    return list(columns.values())


def metric_name(key: str, m: dict[str, Any]) -> str:
    """The name a reader knows for a key ("FID", "modes (of 25)"), as the metric's
    registration declares it (`names`), its placeholders filled from the value's
    settings; the key itself for a user's metric, or where a setting is not recorded."""
    template = builtin_meta("metric", m.get("metric")).get("names", {}).get(key)
    if not isinstance(template, str):
        return key
    try:
        return template.format_map(m.get("settings") or {})
    except (KeyError, ValueError, IndexError, TypeError, AttributeError):
        return UNFILLED.sub("", template)


#: A parenthesis holding a placeholder: " (of {num_modes})", left out when unfilled.
UNFILLED = re.compile(r" \([^()]*\{[^}]*\}[^()]*\)")


def display_name(key: str, m: dict[str, Any]) -> str:
    """The metric's name with its unit where the name does not say it: "FID",
    "throughput (samples/s)", "KL to uniform (nats)"; a fraction has no unit."""
    name, unit = metric_name(key, m), m.get("unit") or ""
    return f"{name} ({unit})" if unit and unit != "fraction" and unit not in name else name


def auxiliary(key: str, m: dict[str, Any]) -> bool:
    """A key its metric declares auxiliary (IS's std over splits): beside the point of a
    leaderboard, shown only when asked for (--all-keys)."""
    return key in builtin_meta("metric", m.get("metric")).get("auxiliary", ())


def arrow(higher_is_better: bool, fmt: str) -> str:
    if fmt == "latex":
        return r"$\uparrow$" if higher_is_better else r"$\downarrow$"
    return "↑" if higher_is_better else "↓"


def header(key: str, higher_is_better: bool, fmt: str) -> str:
    return f"{escape(key, fmt)} {arrow(higher_is_better, fmt)}"


def units_line(results: dict[str, Any]) -> str:
    """'units: key [unit], ...', printed under a table instead of widening every header."""
    units = ", ".join(f"{k} [{u}]" for k, u, _ in metric_columns(results) if u)
    return f"units: {units or 'none'}"


def render(
    results: dict[str, Any], fmt: str = "terminal", failed: list[tuple[str, str]] = ()
) -> str:
    """Renders results[model][dataset][metric] as one row per (model, dataset); each pair
    in `failed` (no seed finished) is a row of FAILED cells rather than no row at all."""
    columns = metric_columns(results)
    rows = [
        (model, dataset, metrics)
        for model, datasets in results.items()
        for dataset, metrics in datasets.items()
    ]
    rows += [(model, dataset, None) for model, dataset in failed]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            csv_row(
                ["model", "dataset"]
                + [f"{k}_{s}" for k, _, _ in columns for s in ("mean", "std", "n")]
            )
        )
        for model, dataset, metrics in rows:
            values: list[Any] = [model, dataset]
            for key, _, _ in columns:
                m = metrics.get(key) if metrics is not None else None
                values += [m["mean"], m["std"], m["n"]] if m else ["", "", ""]
            writer.writerow(csv_row(values))
        return out.getvalue()
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; valid: {', '.join(ALL_FORMATS)}")
    headers = ["model", "dataset"] + [header(k, h, fmt) for k, _, h in columns]
    body = [
        [escape(model, fmt), escape(dataset, fmt)]
        + [cell(metrics.get(k), fmt) if metrics is not None else "FAILED" for k, _, _ in columns]
        for model, dataset, metrics in rows
    ]
    if not columns and failed:
        headers.append("status")
        body = [[*row, "FAILED"] for row in body]
    return tabulate(body, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)


def run_facts(result: dict[str, Any]) -> list[str]:
    """What made a run, one fact per line, for the head of its table.md and report.html:
    date, version and commit, machine, budget and training options, and each resume."""
    s, m, c = result["suite"], result["machine_info"], result["commit_info"]
    return [
        f"date: {result['datetime']}",
        f"ganbench {result['ganbench_version']}, commit {c['id'][:8]}"
        f"{' (dirty)' if c.get('dirty') else ''}",
        f"machine: {m.get('gpu') or m.get('cpu')}, torch {m.get('torch')}, "
        f"device {m.get('device')}",
        f"budget: {s['budget']['steps']:,} steps at batch {s['budget']['batch_size']}, "
        f"seeds {', '.join(map(str, s['budget']['seeds']))}",
        *([f"training: {readable(s['training'])}"] if s.get("training") else []),
        *[
            f"resumed {r['datetime']} at commit {r['commit'][:8]} on {r['machine']}"
            + (f" (forced: {r['forced']})" if r["forced"] else "")
            for r in result.get("resumes", [])
        ],
    ]


#: How deep `readable` follows nested options: ganbench writes two levels; a result
#: file nested 400 deep by hand would exhaust the stack.
READABLE_DEPTH = 8


def readable(options: dict[str, Any], depth: int = 0) -> str:
    """`precision fp32, compile off, channels_last on, checkpoint_every 1,000`: options
    as a reader says them, not as a Python dict."""
    if depth >= READABLE_DEPTH:
        return "..."
    return ", ".join(f"{k} {readable_value(v, depth + 1)}" for k, v in options.items())


def readable_value(v: Any, depth: int = 0) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return f"({readable(v, depth)})" if v else "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "none"
    return str(v)


def run_title(result: dict[str, Any]) -> str:
    """`mnist — run 0011`, with (quick) or (budget NAME)."""
    s = result["suite"]
    return (
        f"{s['name']} — run {result['run']}{' (quick)' if s.get('quick') else ''}"
        f"{f' (budget {b})' if (b := s.get('budget_name')) else ''}"
    )
