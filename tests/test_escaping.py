"""Names from a result file are inert in every table format (issue 14 #10, #11).

Result files are exchanged between people; a crafted one must not inject
markup into HTML, break markdown or LaTeX rows, or smuggle a formula into a
spreadsheet. Each test renders a result whose names hold the attack strings.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.formatting import CONTROL

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0001_2697d0b4_20261123_014735_mog"
MODEL = "<script>alert(1)</script>|a&b_c%d#e$f\nnext *x* `y`"
DATASET = '"><img src=x onerror=alert(2)>'
MACHINE = '=HYPERLINK("http://evil")'
ATTACKS = (MODEL, DATASET, MACHINE)


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    """results/ holding one complete mog run whose model, dataset and machine are attacks."""
    result = json.loads((RUN / "result.json").read_text())
    result["results"] = {MODEL: {DATASET: result["results"]["mlp-gan"]["ring-8"]}}
    result["machine_info"]["gpu"] = MACHINE
    result["references"] = []
    result["run"] = "0001<i>"
    folder = tmp_path / "results" / "runs" / "cpu-x86-64" / "0001_x_mog"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))
    return tmp_path / "results"


def render(results: Path, fmt: str, capsys) -> str:
    assert main(["leaderboard", str(results), "--suite", "mog", "--format", fmt]) == 0
    return capsys.readouterr().out


def test_html_leaderboard_and_report_escape_every_name(crafted, capsys):
    pages = [render(crafted, "html", capsys)]
    assert main(["report", "1", "--results-dir", str(crafted)]) == 0
    pages.append((crafted / "runs" / "cpu-x86-64" / "0001_x_mog" / "report.html").read_text())
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page and "<i>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert 'id="&lt;script&gt;' in pages[1]  # the heading's anchor, inside an attribute


def unescape_markdown(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell).strip()


def tables(text: str, is_row) -> list[list[str]]:
    """The rows of each table in a leaderboard (quality, then cost), split at other lines."""
    found: list[list[str]] = [[]]
    for line in text.splitlines():
        if is_row(line):
            found[-1].append(line)
        elif found[-1]:
            found.append([])
    return [t for t in found if t]


def test_markdown_rows_parse_back_to_the_names(crafted, capsys):
    text = render(crafted, "md", capsys)
    quality, cost = tables(text, lambda line: line.startswith("|"))
    for table in (quality, cost):
        split = [re.split(r"(?<!\\)\|", row)[1:-1] for row in table]
        assert len({len(cells) for cells in split}) == 1  # no row has extra columns
    split = [re.split(r"(?<!\\)\|", row)[1:-1] for row in quality]
    header, _, *body = split
    (row,) = body
    assert unescape_markdown(row[0]) == CONTROL.sub(" ", MODEL)
    assert unescape_markdown(row[header.index(next(h for h in header if "modes (of 8)" in h))])
    # the dataset is named once, as the table's heading (issue 43 #2)
    headings = [line[4:] for line in text.splitlines() if line.startswith("### ")]
    assert unescape_markdown(headings[0]) == DATASET


def test_csv_has_no_formula_and_parses_back(crafted, capsys):
    rows = list(csv.DictReader(io.StringIO(render(crafted, "csv", capsys))))
    assert rows and all(r["machine"] == "'" + MACHINE for r in rows)
    assert all(r["model"] == CONTROL.sub(" ", MODEL) and r["dataset"] == DATASET for r in rows)
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values() if v)


def latex_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.endswith(r"\\")]


def test_latex_rows_have_no_unescaped_specials(crafted, capsys):
    text = render(crafted, "latex", capsys)
    for table in tables(text, lambda line: line.endswith(r"\\")):
        unescaped_amp = [len(re.findall(r"(?<!\\)&", row)) for row in table]
        assert len(set(unescaped_amp)) == 1  # every row has the header's columns
    body = "\n".join(latex_lines(text))
    for special in "_%#":
        assert not re.search(rf"(?<!\\){re.escape(special)}", body), special
    assert r"a\&b\_c\%d\#e\$f" in body


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX installed")
def test_latex_leaderboard_compiles(crafted, capsys, tmp_path):
    table = render(crafted, "latex", capsys)
    document = tmp_path / "board.tex"
    document.write_text(
        "\\documentclass{article}\\usepackage[utf8]{inputenc}\\usepackage{amssymb}"
        f"\\begin{{document}}\n{table}\n\\end{{document}}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", document.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_committed_results_latex_has_no_raw_underscore(capsys, committed_results):
    """The defect as found: `cpu x86_64` went raw into a LaTeX cell."""
    text = render(committed_results, "latex", capsys)
    assert "x86_64" not in "\n".join(latex_lines(text)) and r"x86\_64" in text


def test_report_survives_a_truncated_picture_and_checkpoint(tmp_path, capsys):
    run = tmp_path / "results" / "runs" / "cpu-x86-64" / "0001_x_mog"
    shutil.copytree(RUN, run)
    picture = next((run / "pictures").glob("*.png"))
    picture.write_bytes(picture.read_bytes()[:30])
    (run / "checkpoints").mkdir(exist_ok=True)
    for checkpoint in [run / "checkpoints" / "mlp-gan__ring-8__seed0.pt"]:
        checkpoint.write_bytes(b"PK\x03\x04 truncated")
    assert main(["report", "1", "--results-dir", str(tmp_path / "results")]) == 0
    page = (run / "report.html").read_text()
    assert f"{picture.name} (" in page and "damaged or truncated" in page
