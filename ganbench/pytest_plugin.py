"""pytest plugin: quality gates for a GAN project's own test suite.

    def test_quality(ganbench_eval):
        r = ganbench_eval(generator=my_generator, dataset="mnist", metrics=["fid-mnist"])
        assert r["fid-mnist"] < 20

`--ganbench-save PATH` writes every value measured in the session to a JSON
file; `--ganbench-baseline PATH` loads such a file, and the `ganbench_baseline`
fixture returns the stored values of the current test (None when absent), so
that a test can assert "no worse than last time":

    assert r["fid-mnist"] <= ganbench_baseline["fid-mnist"] + 1.0

Values are only compared when they were measured with the same settings; a
test whose settings changed gets no baseline rather than a wrong one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ganbench.results.files import write_json

SCHEMA = "ganbench-pytest/1"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ganbench")
    group.addoption(
        "--ganbench-baseline",
        metavar="PATH",
        help="JSON written by --ganbench-save in an earlier session",
    )
    group.addoption(
        "--ganbench-save",
        metavar="PATH",
        help="write the values measured through ganbench_eval to PATH",
    )
    group.addoption("--ganbench-device", default="cpu", help="device for ganbench_eval")


class _Session:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.measured: dict[str, dict[str, Any]] = {}
        path = config.getoption("--ganbench-baseline")
        self.baseline: dict[str, dict[str, Any]] = {}
        if path:
            try:
                data = json.loads(Path(path).read_text())
            except FileNotFoundError:
                raise pytest.UsageError(
                    f"--ganbench-baseline {path}: no such file; make it once with "
                    f"`pytest --ganbench-save {path}` (after the baseline run) and commit it"
                ) from None
            except (OSError, ValueError, RecursionError) as e:
                raise pytest.UsageError(
                    f"--ganbench-baseline {path}: not a ganbench pytest baseline ({e})"
                ) from None
            if not isinstance(data, dict) or data.get("schema") != SCHEMA:
                raise pytest.UsageError(
                    f"{path}: not a ganbench pytest baseline "
                    f"(schema {data.get('schema') if isinstance(data, dict) else None!r}, "
                    f"expected {SCHEMA!r})"
                )
            self.baseline = data["tests"]


def pytest_configure(config: pytest.Config) -> None:
    config._ganbench = _Session(config)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    state: _Session = session.config._ganbench  # type: ignore[attr-defined]
    path = session.config.getoption("--ganbench-save")
    if path and state.measured:
        write_json(Path(path), {"schema": SCHEMA, "tests": state.measured})


@pytest.fixture
def ganbench_eval(request: pytest.FixtureRequest):
    """Returns evaluate(generator, dataset, metrics, **options) -> {name: value}."""
    from ganbench.errors import GanbenchError
    from ganbench.evaluate import evaluate_generator

    state: _Session = request.config._ganbench  # type: ignore[attr-defined]

    def evaluate(generator, dataset: str, metrics: list[str], **options: Any) -> dict[str, float]:
        options.setdefault("device", request.config.getoption("--ganbench-device"))
        try:
            measured = evaluate_generator(generator, dataset, metrics, **options)
        except GanbenchError as e:
            pytest.fail(f"ganbench: {e}", pytrace=False)
        record = state.measured.setdefault(request.node.nodeid, {})
        for key, m in measured.items():
            record[key] = {"value": m.value, "dataset": dataset, "settings": m.settings}
        return {key: m.value for key, m in measured.items()}

    return evaluate


class Baseline:
    """The stored values of one test; reading one checks it was measured the same way."""

    def __init__(self, stored: dict[str, Any], current: dict[str, Any]) -> None:
        self.stored, self.current = stored, current

    def __getitem__(self, key: str) -> float:
        if key not in self.stored:
            pytest.fail(
                f"ganbench baseline has no {key!r} for this test; it has "
                f"{', '.join(sorted(self.stored))}",
                pytrace=False,
            )
        old, new = self.stored[key], self.current.get(key)
        if new is not None and (old["settings"], old["dataset"]) != (
            new["settings"],
            new["dataset"],
        ):
            pytest.fail(
                f"ganbench baseline {key!r} was measured with other settings "
                f"({old['dataset']}, {old['settings']}) than now ({new['dataset']}, "
                f"{new['settings']}); save a new baseline",
                pytrace=False,
            )
        return old["value"]


@pytest.fixture
def ganbench_baseline(request: pytest.FixtureRequest) -> Baseline | None:
    """Values stored for this test by --ganbench-save, or None without a baseline."""
    state: _Session = request.config._ganbench  # type: ignore[attr-defined]
    stored = state.baseline.get(request.node.nodeid)
    if not stored:
        return None
    return Baseline(stored, state.measured.setdefault(request.node.nodeid, {}))
