"""`ganbench publish RESULTS --out DIR`: the leaderboards as a static site.

An index of the suites (each with its description, the best model of each protocol by
the suite's primary metric, and the date of its newest run) and a page per suite: its
leaderboards with the published rows and their verdicts, and the samples of each row's
runs, linking to the run's report.html where one was made (`ganbench report N`),
copied into the site. Self-contained (one small stylesheet inlined, no fonts, scripts
or links outside the site), so it works from file:// and from GitHub Pages alike.

The results tree is data from others (docs/security.md): a suite or model name is a
file name only through formatting.file_name and a link only through url_path; every
page and copy lands inside --out (results/confined.py), and only regular files inside
the results tree are copied. A run's files go to runs/<machine>/<run folder>/, so the
runs of one number made on two machines never share a folder.
"""

from __future__ import annotations

import html
from pathlib import Path

from ganbench.errors import GanbenchError, WriteFailed
from ganbench.formatting import escape, file_name, url_path, warn
from ganbench.publishing import leaderboard
from ganbench.results import protocol
from ganbench.results.confined import copy_inside, inside, regular_file_inside, write_inside
from ganbench.results.files import PAIR_PICTURES, RunFolder, write_failed
from ganbench.results.store import ResultsStore

#: Readable at 1280 px without a table cut off, and on a phone (390 px) with the model
#: and the ranking column in view: a cell's value on one line, what its spread is (and
#: the verdict) in small type below it; a table wider than the screen scrolls in its own
#: box, never the page (tests/test_browser.py measures both in Chromium).
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:80rem;padding:1rem;line-height:1.4;color:#1b1b1b;background:#fff}
h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.2rem;margin:2rem 0 .4rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
a{color:#0645ad}.muted,.legend,.notes{color:#555}.summary{max-width:52rem}
.legend,.notes{font-size:.85rem}.notes{overflow-wrap:anywhere}
.table{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600;font-size:.85rem}
td .v{white-space:nowrap;font-variant-numeric:tabular-nums}
td .n,td .verdict{display:block;font-size:.75rem;white-space:nowrap}td .n{color:#555}
.verdict{font-weight:600}.reproduced{color:#0a6b2b}.differs{color:#b00020}
.inconclusive{color:#8a5a00}.not-comparable{color:#555}
th.primary,td.primary{background:#fffbea}tr.published td{background:#f6f6fa}
tr.published td.model{font-style:italic;color:#444}
td.model,th.model{min-width:5rem;max-width:9rem}td.source{min-width:9rem;max-width:20rem}
ul{padding-left:1.2rem}li{margin:.2rem 0}
.samples{display:flex;flex-wrap:wrap;gap:1rem}.samples figure{margin:0}
.samples img{width:10rem;height:auto;image-rendering:pixelated;border:1px solid #ccc}
.samples img.curve{width:20rem;max-width:100%;image-rendering:auto}
figcaption{font-size:.8rem;color:#555;max-width:20rem}
.index td{min-width:6rem}
@media (max-width:40rem){body{padding:.6rem}th,td{padding:.25rem .35rem}
table{font-size:.85rem}h1{font-size:1.35rem}}
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
    for _, r in every:
        suite = r["suite"]
        if r.get("complete") and not suite.get("quick") and not suite.get("seeds"):
            found.setdefault(suite["name"], []).append(r)
    for runs in found.values():
        runs.sort(key=lambda r: protocol.instant(r["datetime"]), reverse=True)
    return dict(sorted(found.items()))


#: The site's own page: a suite whose page would take its name is left out.
INDEX = "index.html"


def suite_page(name: str) -> str:
    """The file name of a suite's page."""
    return f"{file_name(name)}.html"


def publish(results_dir: Path, out: Path, all_keys: bool = False) -> Path:
    """Writes the site into `out` (made if missing); returns its index.html. `all_keys`:
    the tables also show the keys their metrics call auxiliary (IS's std over splits)."""
    from ganbench import suite as suite_module

    every = list(ResultsStore(results_dir).loaded())  # read once (damaged files warned once)
    suites = suites_with_runs(every)
    if any(suite_page(name).lower() == INDEX for name in suites):
        warn(
            f"suite 'index' left out of the site: its page would replace the site's {INDEX}; "
            "rename the suite (ganbench validate refuses the name)"
        )
        suites = {n: runs for n, runs in suites.items() if suite_page(n).lower() != INDEX}
    if not suites:
        raise GanbenchError(
            f"{results_dir}: no complete full run of any suite to publish; run one first "
            "(ganbench run suites/mog)"
        )
    # Every page is made before the first is written: an error on one suite's page (a
    # damaged file, a bug) leaves the site as it was, never new pages beside an old index.
    pages: dict[Path, str] = {}
    copies: list[tuple[Path, Path]] = []  # (a run's file, its place in the site)
    index_rows = []
    for name, runs in suites.items():
        found = suite_module.by_name(name)  # results do not record the description
        primary, description = (found.primary, found.description) if found else (None, "")
        entries = leaderboard.collect(results_dir, name, results=every)
        board = leaderboard.render(entries, name, "html", primary, all_keys)
        board = board[board.index("</h1>") + len("</h1>") :]  # the page has its own title
        samples = _samples(entries, results_dir, out, copies)
        pages[out / suite_page(name)] = page(
            f"ganbench: {escape(name, 'terminal')}",
            f'<p><a href="{INDEX}">all suites</a></p><h1>{escape(name, "html")}</h1>'
            f'<p class="muted">{escape(description, "html")}</p>{board}{samples}',
        )
        index_rows.append(_index_row(name, description, entries, primary, runs[0]))
    pages[out / INDEX] = page(
        "ganbench leaderboards",
        "<h1>ganbench leaderboards</h1><p>Reference GANs trained and measured by "
        "ganbench; each suite's page has its tables, the published numbers with our "
        "verdicts, and samples.</p><div class='table'><table class='index'><thead><tr><th>suite</th><th>description</th>"
        "<th>best per protocol</th><th>newest run</th></tr></thead><tbody>"
        + "".join(index_rows)
        + "</tbody></table></div>",
    )
    for path in [*pages, *(target for _, target in copies)]:
        inside(out, path)  # a name that leads out of the site refuses it before any write
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_failed(out, e) from None
        for source, target in copies:
            copy_inside(results_dir, source, out, target)
        for path, text in pages.items():  # the index last
            write_inside(out, path, text)
    except WriteFailed as e:  # /proc/self said "No such file or directory" and no more
        raise WriteFailed(f"{e}; give --out a folder you can write, e.g. --out site") from None
    return out / INDEX


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
            best.append(f"{escape(section, 'html')}: {escape(top[0].model, 'html')}")
    return (
        f'<tr><td><a href="{url_path(suite_page(name))}">{escape(name, "html")}</a></td>'
        f"<td>{escape(description, 'html')}</td><td>{'<br>'.join(best)}</td>"
        f"<td>{escape(newest['datetime'][:10], 'html')} "
        f"(run {escape(newest['run'], 'html')})</td></tr>"
    )


def _samples(entries, results_dir: Path, out: Path, copies: list[tuple[Path, Path]]) -> str:
    """Thumbnails of each row's samples and training curves from its newest run, linking
    to that run's report.html when there is one; all to be copied into the site (added to
    `copies`), from inside the results tree only."""
    figures = []
    for e in entries:
        if e.folder is None:  # a published row
            continue
        folder = RunFolder(e.folder)
        site = [file_name(part) for part in ("runs", *ResultsStore.run_key(folder.path))]
        link = None
        if regular_file_inside(results_dir, folder.report):
            copies.append((folder.report, out.joinpath(*site, "report.html")))
            link = url_path(*site, "report.html")
        for dataset in dict.fromkeys(d for d, _ in e.metrics):
            for kind, what in PAIR_PICTURES.items():
                picture = folder.picture(e.model, dataset, kind)
                if not regular_file_inside(results_dir, picture):
                    continue
                copies.append((picture, out.joinpath(*site, picture.name)))
                caption = escape(
                    f"{e.section}: {e.model} on {dataset}, {what}, run {e.run}", "html"
                )
                css = ' class="curve"' if kind != "samples" else ""
                img = f'<img{css} src="{url_path(*site, picture.name)}" alt="{caption}">'
                if link:
                    img = f'<a href="{link}">{img}</a>'
                figures.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
    if not figures:
        return ""
    return f'<h2>Samples and training</h2><div class="samples">{"".join(figures)}</div>'
