"""Shared test setup: slow/gpu markers and a helper that runs the CLI in a temp folder."""

from __future__ import annotations

import shutil
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
    from ganbench.environment import INPUT_ENVS

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


@pytest.fixture
def four(workdir: Path) -> Path:
    """suites/four in the temp folder (tests.helpers.FOUR)."""
    from tests.helpers import FOUR

    path = workdir / "suites" / "four"
    path.mkdir(parents=True)
    (path / "suite.toml").write_text(FOUR)
    return path
