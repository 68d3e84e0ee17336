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
