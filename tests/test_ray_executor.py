"""`ganbench run --executor ray` (issue 13 #1, #3): each job a Ray task on a local Ray; the
run must equal a local run of the same suite apart from timing and host fields, and
`--resume` must continue an unfinished job from its checkpoint inside the task."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from ganbench.cli import main
from tests.helpers import comparable, only_result_dir, quality

#: Spawns processes or runs whole pipelines: the e2e tier (pytest -m 'not e2e' skips it).
pytestmark = pytest.mark.e2e

try:
    import ray
except ImportError:
    ray = None


def needs_ray(test):
    """Marked `ray`, and skipped where ray is not installed."""
    skip = pytest.mark.skipif(ray is None, reason="ray is not installed: pip install -e '.[ray]'")
    return skip(pytest.mark.ray(test))


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@needs_ray
def test_a_run_through_ray_equals_the_local_run(four, workdir, capsys):
    # A task that fits nowhere on a Ray started for the run: an error, not a wait forever.
    too_big = ["--results-dir", "too-big", "--executor", "ray", "--job-cpus", "100000"]
    assert main(["run", "suites/four", *too_big]) == 2
    assert "each task needs 100000 CPU(s), and the Ray has" in capsys.readouterr().err
    assert not ray.is_initialized()
    assert main(["run", "suites/four", "--results-dir", "local"]) == 0
    assert main(["run", "suites/four", "--results-dir", "ray", "--executor", "ray"]) == 0
    err = capsys.readouterr().err
    assert "Ray: 4 tasks of 1 CPU(s) each" in err
    assert err.count("finished on ") == 4
    assert not ray.is_initialized()  # the Ray this run started is shut down
    local, on_ray = only_result_dir(workdir / "local"), only_result_dir(workdir / "ray")
    assert quality(on_ray) == quality(local) and len(quality(local)) == 4
    assert comparable(on_ray) == comparable(local)
    # The files the tasks wrote in their scratch folders reached the run folder.
    assert {p.name for p in (local / "pictures").iterdir()} == {
        p.name for p in (on_ray / "pictures").iterdir()
    }
    assert {p.name for p in (local / "checkpoints").iterdir()} == {
        p.name for p in (on_ray / "checkpoints").iterdir()
    }


@pytest.fixture
def local_ray():
    """A Ray started by the test, with room for a task of as many threads as this
    process's: the run uses it and leaves it running."""
    ray.init(num_cpus=max(2, torch.get_num_threads()), include_dashboard=False)
    yield
    ray.shutdown()


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@needs_ray
def test_resume_through_ray_continues_the_unfinished_job_from_its_checkpoint(
    four,
    workdir,
    local_ray,
    capsys,
):
    assert main(["run", "suites/four"]) == 0
    run_dir = only_result_dir(workdir / "results")
    before = quality(run_dir)
    # As if killed after the last step's checkpoint of one job, before its fragment.
    (run_dir / "jobs" / "mlp-gan__grid-25__seed1.json").unlink()
    result = json.loads((run_dir / "result.json").read_text())
    (run_dir / "result.json").write_text(json.dumps({**result, "complete": False}))
    capsys.readouterr()
    # The local run's threads: throughput measured with other settings would not mix.
    threads = str(torch.get_num_threads())
    assert main(["run", "suites/four", "--resume", "--executor", "ray", "--job-cpus", threads]) == 0
    err = capsys.readouterr().err
    assert err.count("finished earlier, skipped") == 3 and f"Ray: 1 tasks of {threads} CPU" in err
    assert ray.is_initialized()  # not the run's to shut down
    fragment = json.loads((run_dir / "jobs" / "mlp-gan__grid-25__seed1.json").read_text())
    assert fragment["training"]["resumed_from"] == 20  # the checkpoint travelled to the task
    assert quality(run_dir) == before
    assert json.loads((run_dir / "result.json").read_text())["complete"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--address", "auto"], "--address only go(es) with --executor ray"),
        (["--job-cpus", "2"], "--job-cpus only go(es) with --executor ray"),
        (["--executor", "ray", "--workers", "2"], "--workers is the local executor's"),
    ],
)
def test_ray_options_are_checked(four, capsys, extra, message):
    assert main(["run", "suites/four", *extra]) == 2
    assert message in capsys.readouterr().err


def test_without_ray_the_error_names_the_extra(four, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    assert main(["run", "suites/four", "--executor", "ray"]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err
