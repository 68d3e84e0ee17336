"""README's three commands in order (install, `ganbench run suites/mog`, `pytest`) pass:
no test reads the runs a user makes in the checkout (issue 42 #6: one compared run 1
with *the newest* mog run in results/, which was the user's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, copy_checkout

#: Reading the checkout's results/ as a whole, or globbing it, picks up a user's runs:
#: tests use committed runs by name (tests.helpers.committed_run), the committed_results
#: fixture, or results of their own in a temporary folder.
WHOLE_RESULTS = (
    re.compile(r"REPO\s*/\s*\"results\"\s*[),]"),
    re.compile(r"REPO[\w.]*\.glob\(\s*[\"']results"),
    re.compile(r"\(\s*REPO\s*/\s*\"results\"[^)\n]*\)\.glob"),
)


def test_no_test_reads_the_checkouts_own_results_folder_as_a_whole():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        if path.name != Path(__file__).name  # its own examples below
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(pattern.search(line) for pattern in WHOLE_RESULTS)
    ]
    assert found == []


def test_the_guard_sees_the_reads_it_forbids():
    lines = [
        'mog = sorted(REPO.glob("results/runs/*/*_mog"))',
        'runs = sorted(prove_gate.REPO.glob("results/runs/*/*_mnist-ci"))',
        'runs = sorted((REPO / "results" / "runs").glob("*/*_mog"))',
        'assert main(["publish", str(REPO / "results"), "--out", str(out)]) == 0',
    ]
    assert all(any(p.search(line) for p in WHOLE_RESULTS) for line in lines)
    by_name = 'RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0001_2697d0b4_20261123_014735_mog"'
    assert not any(p.search(by_name) for p in WHOLE_RESULTS)


def _in(clone: Path, *command: str, timeout: int) -> None:
    done = subprocess.run(
        command,
        cwd=clone,
        env={**os.environ, "PYTHONPATH": str(clone), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


@pytest.mark.e2e
@pytest.mark.slow  # a run, then the contributor tier inside this test: about 2.5 minutes
def test_readme_commands_in_order_pass_in_a_fresh_clone(tmp_path):
    """A clone of the checkout's files (tracked and new, as a contributor has them),
    committed in a repository of its own; the install is this interpreter's environment
    (.ci/run proves README's install line from a clean clone). Then `ganbench run
    suites/mog --quick` (the full budget's 6 jobs take minutes more and leave the same
    kind of run) and the tests: the contributor tier and the e2e tests that read the
    committed results."""
    clone = copy_checkout(tmp_path / "clone")
    git = ("git", "-c", "user.name=test", "-c", "user.email=test@example.invalid")
    _in(clone, "git", "init", "-q", timeout=60)
    _in(clone, "git", "add", "-A", timeout=60)
    _in(clone, *git, "commit", "-q", "-m", "clone", timeout=60)
    _in(clone, sys.executable, "-m", "ganbench", "run", "suites/mog", "--quick", timeout=600)
    assert len(list((clone / "results" / "runs").glob("*/*_mog"))) == 3  # 0001, 0006, ours
    pytest_command = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    _in(clone, *pytest_command, "-m", "not e2e", timeout=900)
    _in(clone, *pytest_command, "tests/test_fast_start.py", timeout=300)
