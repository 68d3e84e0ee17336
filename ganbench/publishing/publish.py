"""`ganbench publish RESULTS --out DIR`: the leaderboards as a static site.

An index of the suites (each with its description, the best model of each protocol by
the suite's primary metric, and the date of its newest run) and a page per suite: its
leaderboards with the published rows and their verdicts, and the samples of each row's
runs, linking to the run's report.html where one was made (`ganbench report N`),
copied into the site. Self-contained (one small stylesheet inlined, no fonts, scripts
or links outside the site), so it works from file:// and from GitHub Pages alike.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.publishing import leaderboard
from ganbench.results import protocol
from ganbench.results.files import PAIR_PICTURES, RunFolder, write_failed
from ganbench.results.store import ResultsStore

#: Readable on a phone: one column, tables scroll sideways rather than squeeze.
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:72rem;padding:1rem;line-height:1.45;color:#1b1b1b;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}a{color:#0645ad}
table{border-collapse:collapse;display:block;overflow-x:auto;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;white-space:nowrap}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
ul{padding-left:1.2rem}li{margin:.2rem 0}.muted{color:#555}
.samples{display:flex;flex-wrap:wrap;gap:1rem}.samples figure{margin:0}
.samples img{width:10rem;height:auto;image-rendering:pixelated;border:1px solid #ccc}
.samples img.curve{width:20rem;max-width:100%;image-rendering:auto}
figcaption{font-size:.8rem;color:#555;max-width:20rem}
.index{display:table}.index td{white-space:normal;min-width:6rem}
"""


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def suites_with_runs(every: list[tuple[Path, dict]]) -> dict[str, list[dict]]:
    """Suite name -> its complete full runs' results, newest first."""
    found: dict[str, list[dict]] = {}
    for run_dir, r in every:
        suite = r["suite"]
        if r.get("complete") and not suite.get("quick") and not suite.get("seeds"):
            r["_dir"] = run_dir
            found.setdefault(suite["name"], []).append(r)
    for runs in found.values():
        runs.sort(key=lambda r: protocol.instant(r["datetime"]), reverse=True)
    return dict(sorted(found.items()))


def publish(results_dir: Path, out: Path) -> Path:
    """Writes the site into `out` (made if missing); returns its index.html."""
    from ganbench import suite as suite_module

    every = list(ResultsStore(results_dir).loaded())  # read once (damaged files warned once)
    suites = suites_with_runs(every)
    if not suites:
        raise GanbenchError(
            f"{results_dir}: no complete full run of any suite to publish; run one first "
            "(ganbench run suites/mog)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_failed(out, e) from None
    index_rows = []
    for name, runs in suites.items():
        found = suite_module.by_name(name)  # results do not record the description
        primary, description = (found.primary, found.description) if found else (None, "")
        entries = leaderboard.collect(results_dir, name, results=[r for _, r in every])
        by_run = {r["run"]: r for r in runs}
        board = leaderboard.render(entries, name, "html", primary)
        board = board[board.index("</h1>") + len("</h1>") :]  # the page has its own title
        samples = _samples(entries, by_run, out)
        (out / f"{name}.html").write_text(
            page(
                f"ganbench: {name}",
                f'<p><a href="index.html">all suites</a></p><h1>{html.escape(name)}</h1>'
                f"<p>{html.escape(description)}</p>{board}{samples}",
            )
        )
        index_rows.append(_index_row(name, description, entries, primary, runs[0]))
    index = out / "index.html"
    index.write_text(
        page(
            "ganbench leaderboards",
            "<h1>ganbench leaderboards</h1><p>Reference GANs trained and measured by "
            "ganbench; each suite's page has its tables, the published numbers with our "
            "verdicts, and samples.</p><table class='index'><thead><tr><th>suite</th><th>description</th>"
            "<th>best per protocol</th><th>newest run</th></tr></thead><tbody>"
            + "".join(index_rows)
            + "</tbody></table>",
        )
    )
    return index


def _index_row(name: str, description: str, entries, primary: str | None, newest: dict) -> str:
    best = []
    for section in dict.fromkeys(e.section for e in entries):
        rows = [e for e in entries if e.section == section and e.run != leaderboard.PUBLISHED]
        columns = [
            c
            for e in rows
            for c in e.metrics
            if e.metrics[c].get("metric") != leaderboard.COST_METRIC
        ]
        top = leaderboard.ranked(rows, list(dict.fromkeys(columns)), primary)
        if top:
            best.append(f"{html.escape(section)}: {html.escape(top[0].model)}")
    return (
        f'<tr><td><a href="{html.escape(name)}.html">{html.escape(name)}</a></td>'
        f"<td>{html.escape(description)}</td><td>{'<br>'.join(best)}</td>"
        f"<td>{html.escape(newest['datetime'][:10])} (run {html.escape(newest['run'])})</td></tr>"
    )


def _samples(entries, by_run: dict[str, dict], out: Path) -> str:
    """Thumbnails of each row's samples and training curves from its newest run, linking
    to that run's report.html when there is one; all copied into the site."""
    figures = []
    for e in entries:
        r = by_run.get(e.run)
        if r is None:  # a published row
            continue
        folder = RunFolder(r["_dir"])
        target = out / "runs" / folder.path.name
        report = folder.report
        link = None
        if report.is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(report, target / report.name)
            link = f"runs/{html.escape(folder.path.name)}/{report.name}"
        datasets = dict.fromkeys(d for d, _ in e.metrics)
        for dataset in datasets:
            for kind, what in PAIR_PICTURES.items():
                picture = folder.picture(e.model, dataset, kind)
                if not picture.is_file():
                    continue
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(picture, target / picture.name)
                image = f"runs/{folder.path.name}/{picture.name}"
                caption = html.escape(f"{e.section}: {e.model} on {dataset}, {what}, run {e.run}")
                css = ' class="curve"' if kind != "samples" else ""
                img = f'<img{css} src="{html.escape(image)}" alt="{caption}">'
                if link:
                    img = f'<a href="{link}">{img}</a>'
                figures.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
    if not figures:
        return ""
    return f'<h2>Samples and training</h2><div class="samples">{"".join(figures)}</div>'
