"""Shared test setup: slow/gpu markers and a helper that runs the CLI in a temp folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_gpu = pytest.mark.skip(reason="gpu: CUDA is not available")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


def _ctrl_c_as_at_a_terminal() -> None:
    """In the child before exec: SIGINT's default disposition. A shell starts a background
    command (`pytest ... &` in a script, as CI may) with SIGINT ignored; the child would
    inherit that, and Python installs no Ctrl-C handler then (issue 35: the signal test
    waited 60 s on a run that rightly ignored the SIGINT it was sent)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts a process in a process group of its own, with Ctrl-C's default disposition
    (`sigint_ignored=True` for a shell's background one), and kills the group when the
    test ends, pass or fail: a failed test once left a run and its two workers training,
    slowing every later test."""
    started: list[subprocess.Popen] = []

    def start(command: list[str], *, sigint_ignored: bool = False, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("env", {**os.environ, "OMP_NUM_THREADS": "1"})
        process = subprocess.Popen(
            command,
            start_new_session=True,
            preexec_fn=(
                (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                if sigint_ignored
                else _ctrl_c_as_at_a_terminal
            ),
            **kwargs,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp folder holding a copy of the repo's suites, as the current directory."""
    shutil.copytree(REPO / "suites", tmp_path / "suites")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_suite(workdir: Path) -> Path:
    """suites/tiny in the temp folder: mlp-gan on ring-8, 20 steps, 2 seeds (seconds)."""
    from tests.helpers import TINY

    path = workdir / "suites" / "tiny"
    path.mkdir()
    (path / "suite.toml").write_text(TINY)
    return path


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`--data-root`/`--inception-weights`/`--download` set environment variables: undo
    them after every test. The torch hub cache is empty, whatever the user's holds."""
    from ganbench.runtime.environment import INPUT_ENVS

    for name in INPUT_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))


@pytest.fixture(autouse=True, scope="session")
def private_stats_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests compute reference statistics into their own cache, never the user's."""
    from ganbench.features.cache import CACHE_ENV

    patch = pytest.MonkeyPatch()
    patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory: pytest.TempPathFactory):
    """tests.random_inception's state dict, and a file holding it."""
    from ganbench.features import inception as inception_module
    from tests.random_inception import random_inception_state

    state = random_inception_state()
    path = tmp_path_factory.mktemp("weights") / inception_module.PT_FILE
    torch.save(state, path)
    return state, path


@pytest.fixture(scope="session")
def committed_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed results/ (runs, leaderboards, gates), without the runs a
    user made in the checkout: what a test that reads every run reads. Shared: read it,
    never write into it."""
    from tests.helpers import committed

    out = tmp_path_factory.mktemp("committed") / "results"
    for path in committed("results"):
        target = out.parent / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return out


@pytest.fixture
def four(workdir: Path) -> Path:
    """suites/four in the temp folder (tests.helpers.FOUR)."""
    from tests.helpers import FOUR

    path = workdir / "suites" / "four"
    path.mkdir(parents=True)
    (path / "suite.toml").write_text(FOUR)
    return path
