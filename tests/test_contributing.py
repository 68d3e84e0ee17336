"""CONTRIBUTING.md stays true: every path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def named_paths(text: str) -> list[str]:
    """Backticked paths (holding a /), less the templates a checklist fills in (NAME)."""
    spans = re.findall(r"`([^`\s]+)`", text)
    return [s for s in spans if re.fullmatch(r"[\w./-]+", s) and "/" in s and "NAME" not in s]


def test_every_path_contributing_names_exists():
    text = (REPO / "CONTRIBUTING.md").read_text()
    paths = named_paths(text)
    assert len(paths) > 20  # the checklists name their files
    missing = [p for p in paths if not (REPO / p).exists()]
    assert missing == []


def test_a_path_that_does_not_exist_is_caught():
    assert named_paths("see `ganbench/nosuch.py` and `ganbench run`") == ["ganbench/nosuch.py"]


def relative_links(text: str) -> list[str]:
    """Markdown links to files of this repository (no scheme, no bare #anchor), less their
    #anchor."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if "://" not in t and not t.startswith("#")]


def test_every_link_of_the_readme_and_docs_reaches_a_file():
    """README is short and sends the reader to docs/: a moved page must not leave a link
    that goes nowhere."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert len(pages) > 5
    broken = [
        f"{page.name}: {link}"
        for page in pages
        for link in relative_links(page.read_text())
        if not (page.parent / link).exists()
    ]
    assert broken == []


def test_a_link_to_a_missing_page_is_caught():
    assert relative_links("[a](docs/nosuch.md#x) [b](https://x.org) [c](#top)") == [
        "docs/nosuch.md"
    ]
