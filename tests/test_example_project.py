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

import pytest

from ganbench.cli import main
from ganbench.results import compare

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ci-project"


@pytest.mark.e2e
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


def _gate_compare(project: Path, baseline: Path, capsys) -> tuple[int, str]:
    """The workflow's gate step: compare the newest run with the baseline, its rules."""
    workflow = (EXAMPLE / ".github" / "workflows" / "gan-gate.yml").read_text()
    rules = [arg for rule in re.findall(r'--fail "([^"]+)"', workflow) for arg in ("--fail", rule)]
    newest = sorted((project / "results" / "runs").glob("*/*_tinygan-gate"))[-1]
    capsys.readouterr()
    code = main(["compare", str(baseline), str(newest), *rules])
    return code, capsys.readouterr().out


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_the_workflows_gate_passes_a_fresh_seed_and_fails_a_broken_model(
    tmp_path, monkeypatch, capsys
):
    """The example's gate for real at a small budget: a 2-seed baseline, then the
    workflow's steps on a fresh seed (exit 0), then on a broken model under the same
    name (exit 1, naming the worse metrics, never CANNOT CHECK)."""
    from ganbench.registry import MODELS
    from tests.gate import defects

    project = tmp_path / "ci-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("results", "baseline"))
    suite = project / "suites" / "gate" / "suite.toml"
    text = suite.read_text()
    suite.write_text(
        text.replace("steps = 1500", "steps = 200").replace("samples = 2000", "samples = 600")
    )
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    assert main(["run", "suites/gate", "--seeds", "0,1"]) == 0
    (baseline,) = (project / "results" / "runs").glob("*/*_tinygan-gate")

    assert main(["run", "suites/gate", "--seeds", "7"]) == 0
    code, out = _gate_compare(project, baseline, capsys)
    assert code == 0, out
    assert "CANNOT CHECK" not in out and "refused" not in out

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.setattr(sys.modules["tinygan.model"], "make", sys.modules["tinygan.model"].make)
    defects.install("sigmoid_output", "tinygan.model:make")
    MODELS._entries.pop("tinygan.model:make", None)  # the healthy factory it imported
    assert main(["run", "suites/gate", "--seeds", "7"]) == 0
    code, out = _gate_compare(project, baseline, capsys)
    assert code == 1, out
    assert "REGRESSION tinygan/mnist/fid_mnist" in out and "CANNOT CHECK" not in out
