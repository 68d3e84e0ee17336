"""Commands that only read JSON start without torch (issue 13 #4): every CI step that
compares result files or builds a leaderboard would otherwise pay torch's import
(about 3 s on a 2-core machine) for nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
HEAVY = ("torch", "matplotlib", "torchvision")


def _imported_after(code: str, cwd: Path) -> list[str]:
    """The heavy modules a fresh interpreter holds after running `code`."""
    probe = (
        f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.e2e  # fresh interpreters, as a CI step starts them
def test_help_compare_leaderboard_ls_validate_and_the_plugin_do_not_import_torch(
    tmp_path, committed_results
):
    from tests.helpers import committed_run

    run = str(committed_run(1))
    code = f"""
import contextlib, io
import ganbench.pytest_plugin
from ganbench.cli import build_parser, main
parser = build_parser()
parser.format_help()
for command in ("run", "compare", "leaderboard", "report", "validate", "ls", "fid", "stats"):
    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
        parser.parse_args([command, "--help"])
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["compare", {run!r}, {run!r}]) == 0
    assert main(["leaderboard", {str(committed_results)!r}, "--suite", "mog"]) == 0
    assert main(["ls", "--suites-dir", {str(REPO / "suites")!r}]) == 0
    assert main(["validate", {str(REPO / "suites" / "mog")!r}, {str(REPO / "suites" / "mnist")!r}]) == 0
"""
    assert _imported_after(code, tmp_path) == []


@pytest.mark.e2e  # fresh interpreters, as a CI step starts them
def test_commands_that_train_still_get_torch(tmp_path):
    """The probe itself can fail: `ls --networks` builds the suite's models."""
    code = "from ganbench.cli import main\nimport contextlib, io\n" + (
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['ls', '--networks', {str(REPO / 'suites' / 'mog')!r}])"
    )
    assert "torch" in _imported_after(code, tmp_path)
