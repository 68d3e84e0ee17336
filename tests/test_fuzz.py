"""Damaged result files and suite files never give a traceback (issue 14 #7, fuzz).

Every command that reads a result file (`compare`, `leaderboard`, `report`) and
`validate` on suite files is fed many mutations of real files: a field deleted,
or replaced by a string, a list, an object, null, a bool, a huge or a negative
number. Each must end in a return code (no exception escapes `main`), and a
refusal (exit 2) names the file. The mutations the issue lists are asserted to
be refused.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from ganbench.cli import main

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0001_2697d0b4_20261123_014735_mog"
REPLACEMENTS: list[Any] = ["x", [], {}, None, True, 10**400, -1, 1e308]


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a JSON document (object keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            found += paths(v, (*prefix, i))
    return found


def mutated(document: Any, path: tuple, replacement: Any) -> Any:
    """A copy of `document` with the value at `path` replaced (or deleted: `...`)."""
    copy = json.loads(json.dumps(document))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    if replacement is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return copy


def mutations(document: Any, count: int, seed: int) -> list[tuple[tuple, Any]]:
    every = [(p, r) for p in paths(document) for r in [..., *REPLACEMENTS]]
    return random.Random(seed).sample(every, min(count, len(every)))


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path, dict]:
    """A copy of a committed mog run (result.json only) as run 1, and the same as run 2."""
    original = json.loads((RUN / "result.json").read_text())
    folders = []
    for number in (1, 2):
        folder = tmp_path / "results" / "runs" / "cpu-x86-64" / f"000{number}_x_mog"
        folder.mkdir(parents=True)
        shutil.copy(RUN / "result.json", folder / "result.json")
        folders.append(folder)
    return folders[0], folders[1], original


def run_all(damaged: Path, results_dir: Path, capsys) -> list[tuple[str, int, str]]:
    outcomes = []
    for name, argv in (
        ("compare", ["compare", "1", "2", "--results-dir", str(results_dir)]),
        ("compare-b", ["compare", "2", "1", "--results-dir", str(results_dir)]),
        ("leaderboard", ["leaderboard", str(results_dir), "--suite", "mog"]),
        ("report", ["report", "1", "--results-dir", str(results_dir)]),
    ):
        code = main(argv)  # any exception fails the test: a traceback for the user
        err = capsys.readouterr().err
        assert code in (0, 1, 2), (name, code)
        if code == 2 and name != "leaderboard":
            assert str(damaged) in err, (name, err)
        outcomes.append((name, code, err))
    return outcomes


def test_mutated_result_files_never_give_a_traceback(two_runs, capsys):
    damaged_dir, _, original = two_runs
    damaged = damaged_dir / "result.json"
    results_dir = damaged_dir.parents[2]
    for path, replacement in mutations(original, 150, seed=14):
        damaged.write_text(json.dumps(mutated(original, path, replacement)))
        for name, code, err in run_all(damaged, results_dir, capsys):
            if name == "leaderboard" and "warning: skipped" in err:
                assert str(damaged) in err  # the damaged run is skipped, the other used
                assert code == 0


ISSUE_CASES = [
    (("results", "mlp-gan", "ring-8", "modes_covered", "mean"), "8"),
    (("results", "mlp-gan", "ring-8", "modes_covered", "higher_is_better"), ...),
    (("results", "mlp-gan", "ring-8", "modes_covered", "settings"), ...),
    (("results", "mlp-gan", "ring-8", "modes_covered"), [1, 2]),
    (("commit_info",), None),
    (("machine_info",), None),
    (("datetime",), 20261129),
    (("suite", "budget", "seeds"), []),
    (("results", "mlp-gan", "ring-8", "modes_covered", "n"), "5"),
    (("results", "mlp-gan", "ring-8", "modes_covered", "per_seed"), [1]),
    (("suite",), "mog"),
    (("references",), {"a": 1}),
]


@pytest.mark.parametrize(("path", "replacement"), ISSUE_CASES, ids=[str(c[0]) for c in ISSUE_CASES])
def test_the_damage_the_attack_found_is_refused_in_one_line(two_runs, capsys, path, replacement):
    damaged_dir, _, original = two_runs
    damaged = damaged_dir / "result.json"
    damaged.write_text(json.dumps(mutated(original, path, replacement)))
    for name, code, err in run_all(damaged, damaged_dir.parents[2], capsys):
        if name == "leaderboard":
            assert code == 0 and f"warning: skipped: {damaged}" in err
        else:
            assert code == 2, (name, err)
            (line,) = [x for x in err.splitlines() if x.startswith("ganbench: error")]
            assert "field " + ".".join(map(str, path[:1])) in line


def suite_mutations() -> list[tuple[Path, str]]:
    """Each `key = value` line of every committed suite, replaced by bad values or deleted."""
    values = ['"x"', "-1", "0", "[1, 2]", "{ a = 1 }", "1e400", "nan", "true", "[]", '""']
    cases = []
    for suite in sorted(REPO.glob("suites/*/suite.toml")):
        lines = suite.read_text().splitlines()
        for index, line in enumerate(lines):
            if " = " not in line or line.lstrip().startswith("#"):
                continue
            key = line.split(" = ")[0]
            for value in values:
                cases.append(
                    (suite, "\n".join([*lines[:index], f"{key} = {value}", *lines[index + 1 :]]))
                )
            cases.append((suite, "\n".join(lines[:index] + lines[index + 1 :])))
    return random.Random(6).sample(cases, 300)


def test_mutated_suite_files_never_give_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused = 0
    for n, (original, text) in enumerate(suite_mutations()):
        folder = tmp_path / f"s{n}"
        shutil.copytree(original.parent, folder)
        (folder / "suite.toml").write_text(text)
        code = main(["validate", str(folder)])
        err = capsys.readouterr().err
        assert code in (0, 2)
        if code == 2:
            refused += 1
            assert str(folder / "suite.toml") in err and "Traceback" not in err
    assert refused > 200  # most mutations are errors; a few are valid (a description)
