"""The GitHub Actions workflows ganbench ships, linted by actionlint: an action whose
runtime GitHub deprecates (node20, removed 2026-09-23) fails here, not in a user's build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ganbench.cli import main

REPO = Path(__file__).resolve().parents[1]
ACTIONLINT = shutil.which("actionlint")
needs_actionlint = pytest.mark.skipif(
    ACTIONLINT is None, reason="actionlint is in the dev extra (pip install -e '.[dev]')"
)


def shipped() -> list[Path]:
    """Every workflow in the repository: the examples and the CI project's (which
    `ganbench init` copies from ganbench/project_template)."""
    found = sorted(REPO.glob("examples/*.yml")) + sorted(
        REPO.glob("examples/**/.github/workflows/*.yml")
    )
    return [p for p in found if "jobs:" in p.read_text()]


def lint(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ACTIONLINT, "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_shipped_workflows_are_the_ones_the_docs_name():
    names = {str(p.relative_to(REPO)) for p in shipped()}
    assert names == {
        "examples/publish-leaderboards.yml",
        "examples/ci-project/.github/workflows/gan-gate.yml",
    }


@needs_actionlint
def test_every_shipped_workflow_passes_actionlint():
    done = lint(shipped())
    assert done.returncode == 0, done.stdout + done.stderr


@needs_actionlint
def test_the_workflow_ganbench_init_writes_passes_actionlint(tmp_path, capsys):
    assert main(["init", str(tmp_path / "my-gan")]) == 0
    capsys.readouterr()
    (workflow,) = (tmp_path / "my-gan" / ".github" / "workflows").glob("*.yml")
    done = lint([workflow])
    assert done.returncode == 0, done.stdout + done.stderr


@needs_actionlint
def test_actionlint_flags_an_action_on_a_removed_runtime(tmp_path):
    """The test can fail: the node20 releases these workflows used are flagged."""
    old = tmp_path / "old.yml"
    old.write_text(
        (REPO / "examples/publish-leaderboards.yml")
        .read_text()
        .replace("actions/checkout@v5", "actions/checkout@v4")
    )
    done = lint([old])
    assert done.returncode != 0 and 'runtime "node20" is deprecated' in done.stdout
