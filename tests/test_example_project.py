"""examples/ci-project works as its README says: its suite trains the project's own
model (a module outside ganbench), its pytest gate measures the result, and its
workflow's gate rules are valid."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ganbench import compare
from ganbench.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ci-project"


def test_the_example_suite_and_its_pytest_gate_run_on_a_tiny_budget(tmp_path, monkeypatch):
    project = tmp_path / "ci-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("results"))
    monkeypatch.chdir(project)
    assert main(["run", "suites/gate", "--quick"]) == 0
    (run,) = (project / "results" / "runs").glob("*/*_tinygan-gate")
    result = json.loads((run / "result.json").read_text())
    assert set(result["results"]) == {"tinygan"}
    measured = result["results"]["tinygan"]["mnist"]
    assert {"fid_mnist", "mnist_score", "precision", "recall"} <= set(measured)
    # the project's own pytest, with the ganbench plugin, on the run just made
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-2000:]
    assert "1 passed" in tests.stdout


def test_the_workflow_gates_with_valid_rules_against_a_committed_baseline():
    workflow = (EXAMPLE / ".github" / "workflows" / "gan-gate.yml").read_text()
    rules = re.findall(r'--fail "([^"]+)"', workflow)
    assert len(rules) == 4
    for rule in rules:
        compare.parse_rule(rule)  # raises on a malformed rule
    baseline = json.loads((EXAMPLE / "baseline" / "result.json").read_text())
    assert baseline["suite"]["name"] == "tinygan-gate" and baseline["complete"]
    assert baseline["results"]["tinygan"]["mnist"]["fid_mnist"]["n"] == 5
