"""`ganbench publish`: the committed results as a static site that works offline."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ganbench.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    assert main(["publish", str(REPO / "results"), "--out", str(out)]) == 0
    return out


def links(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page)


def test_the_index_lists_every_suite_with_its_best_model_and_newest_run(site):
    index = (site / "index.html").read_text()
    for suite in ("mog", "pacgan-mog", "veegan-mog", "pacgan-stacked-mnist"):
        assert f'<a href="{suite}.html">{suite}</a>' in index
    assert "budget: gan-minimax" in index  # veegan-mog's best by modes covered
    assert re.search(r"2026-1\d-\d\d \(run 00\d\d\)", index)


def test_pages_are_self_contained_and_every_link_resolves_in_the_site(site):
    """From file:// and from GitHub Pages alike: no address outside the site, no script,
    one inline stylesheet, a viewport for phone-width screens."""
    for page in site.glob("*.html"):
        text = page.read_text()
        assert "<script" not in text and "<link" not in text and text.count("<style>") == 1
        assert 'name="viewport"' in text
        for target in links(text):
            assert not re.match(r"^[a-z]+:", target), (page.name, target)
            assert (site / target).is_file(), (page.name, target)


def test_a_suite_page_has_its_tables_verdicts_and_samples(site):
    page = (site / "pacgan-mog.html").read_text()
    assert "<h2>budgets.cpu: 10,000 steps at batch 100</h2>" in page
    assert "<h3>grid-25</h3>" in page and "<h3>cost on cpu x86_64</h3>" in page
    assert '<span class="verdict not-comparable">NOT COMPARABLE</span>' in page
    assert "Lin et al. 2018, PacGAN, Table 1" in page
    assert '<img src="runs/0008_b57a61c5_20261201_182322_pacgan-mog/gan__grid-25.png"' in page


def test_publish_without_runs_says_so(tmp_path, capsys):
    assert main(["publish", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    assert "no complete full run of any suite to publish" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless check needs Debian's chromium (apt-get install chromium)",
)
def test_a_suite_page_renders_at_phone_width_in_headless_chromium(site, tmp_path):
    shot = tmp_path / "phone.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=390,844",
            f"--screenshot={shot}",
            (site / "pacgan-mog.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", image[16:24]) == (390, 844)
    assert len(image) > 20_000  # a blank page compresses to a few kB
