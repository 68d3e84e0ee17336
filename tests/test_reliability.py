"""Crashes, kills, races and full disks: what a run keeps and what `--resume` does (issue 14).

Each test reproduces one defect found by attacking v0.1; the defect's number is in the
test's docstring.
"""

from __future__ import annotations

import errno
import html
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganbench.run
import ganbench.run.job
from ganbench.cli import main
from ganbench.errors import GanbenchError
from ganbench.results import lock as run_lock
from tests.helpers import TINY, counting_train, only_run

#: Long enough that a SIGKILL lands inside the first job, after its first checkpoint.
KILLABLE = TINY.replace("steps = 20", "steps = 400").replace(
    "seeds = [0, 1]", "seeds = [0, 1]\n[training]\ncheckpoint_every = 50"
)


def result_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())


def throughput(result: dict) -> dict:
    return result["results"]["mlp-gan"]["ring-8"]["samples_per_second"]


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_sigkill_in_the_first_job_then_resume_twice(tiny_suite, workdir, capsys, spawn):
    """#1 (resume breaks aggregation for good) and #3 (a kill in job 1 orphans the run):
    a real SIGKILL after job 1's first checkpoint; --resume continues that run folder from
    the checkpoint (taking over the dead process's lock), and a second --resume is still
    fine."""
    (tiny_suite / "suite.toml").write_text(KILLABLE)
    process = spawn(
        [sys.executable, "-m", "ganbench", "run", str(tiny_suite), "--device", "cpu"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = workdir / "results" / "runs"
    deadline = time.monotonic() + 120
    while not list(checkpoint.glob("*/*/checkpoints/mlp-gan__ring-8__seed0.pt")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    run_dir = only_run(workdir)
    header = result_of(run_dir)
    assert header["complete"] is False and header["jobs"]["finished"] == 0
    assert (run_dir / run_lock.LOCK_FILE).is_file()  # left behind by the dead process

    assert main(["run", str(tiny_suite), "--resume", "--device", "cpu"]) == 0
    assert only_run(workdir) == run_dir  # the orphan was found, not a new run started
    assert "resuming from the checkpoint at step" in capsys.readouterr().err
    result = result_of(run_dir)
    assert result["complete"]
    speed = throughput(result)
    assert speed["n"] == 2 and all(v > 0 for v in speed["per_seed"].values())
    assert speed["conditions"]["0"]["resumed_from"] > 0
    assert "resumed_from" not in speed["conditions"]["1"]
    assert not (run_dir / run_lock.LOCK_FILE).exists()
    # A second --resume: the run is complete, so a new run starts, and nothing fails.
    assert main(["run", str(tiny_suite), "--resume", "--device", "cpu"]) == 0


@pytest.mark.e2e  # trains a run: the full tier
def test_kill_during_evaluation_resumes_with_the_real_throughput(
    tiny_suite, workdir, monkeypatch, capsys
):
    """#1/#2: killed after training but before the fragment (evaluation), the job resumes
    from its end-of-training checkpoint with the throughput measured before the kill,
    never 0 and never a shorter window than its sibling seed's."""
    real_build = ganbench.run.build_metrics
    calls = []

    def build(suite, budget):
        metrics = real_build(suite, budget)
        measure = metrics["mode-coverage"]

        def interrupted(ctx):
            calls.append(ctx.seed)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return measure(ctx)

        return {**metrics, "mode-coverage": interrupted}

    monkeypatch.setattr(ganbench.run, "build_metrics", build)
    assert main(["run", str(tiny_suite)]) == 130
    monkeypatch.setattr(ganbench.run, "build_metrics", real_build)
    trained = counting_train(monkeypatch)
    assert main(["run", str(tiny_suite), "--resume"]) == 0
    assert trained == [1]  # seed 1's training resumed from its final checkpoint
    speed = throughput(result_of(only_run(workdir)))
    assert all(v > 0 for v in speed["per_seed"].values())
    steps = {c["timed_steps"] for c in speed["conditions"].values()}
    assert steps == {18}  # 20 steps, 2 of warm-up: the same window for both seeds


def test_a_job_too_short_to_time_records_no_throughput(tiny_suite, workdir, capsys):
    """#2: a 1-step job has no timed steps: n/a with the reason, never 0 samples/s or 0 MiB."""
    (tiny_suite / "suite.toml").write_text(TINY.replace("steps = 20", "steps = 1"))
    assert main(["run", str(tiny_suite)]) == 0
    result = result_of(only_run(workdir))
    for key in ("samples_per_second", "peak_memory_mib"):
        m = result["results"]["mlp-gan"]["ring-8"][key]
        assert m["mean"] is None and m["n"] == 0
        assert "not timed" in m["conditions"]["0"]["note"]
    assert "n/a" in capsys.readouterr().out


@pytest.mark.e2e  # trains a run: the full tier
def test_a_second_resume_of_a_locked_run_is_refused(tiny_suite, workdir, monkeypatch, capsys):
    """#4: while one process holds a run, a second --resume stops in one line (exit 2)
    before it trains or writes anything."""
    counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    run_dir = only_run(workdir)
    before = {p.name: p.read_bytes() for p in (run_dir / "jobs").iterdir()}
    capsys.readouterr()
    calls = counting_train(monkeypatch)
    with run_lock.locked(run_dir):
        assert main(["run", str(tiny_suite), "--resume"]) == 2
        assert calls == []
    err = capsys.readouterr().err
    assert f"in use by ganbench process {os.getpid()}" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (run_dir / "jobs").iterdir()} == before
    assert main(["run", str(tiny_suite), "--resume"]) == 0  # released: now it may


@pytest.mark.e2e  # trains a run: the full tier
def test_resume_on_another_thread_count_is_refused_before_training(
    tiny_suite, workdir, monkeypatch, capsys
):
    """A resume on other torch threads trained a job, then failed to aggregate its
    throughput with the finished one's, and left a run that no thread count could finish.
    Now it is refused before anything trains, and the run's own count finishes it."""
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    calls = counting_train(monkeypatch)
    capsys.readouterr()
    torch.set_num_threads(other)
    try:
        assert main(["run", str(tiny_suite), "--resume"]) == 2
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert f"x{threads} threads', and the jobs left would train on " in err
    assert f"continue with {threads} torch thread(s) per job (OMP_NUM_THREADS={threads}" in err
    assert calls == [] and "estimate:" not in err
    assert main(["run", str(tiny_suite), "--resume"]) == 0
    assert calls == [1] and result_of(only_run(workdir))["complete"]


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_two_concurrent_resumes_one_trains_one_is_refused(tiny_suite, workdir, monkeypatch, spawn):
    """#4 with two real processes: exactly one wins the run; the fragments match result.json."""
    (tiny_suite / "suite.toml").write_text(KILLABLE.replace("steps = 400", "steps = 1500"))
    counting_train(monkeypatch, fail_on=1)
    assert main(["run", str(tiny_suite)]) == 130
    command = [sys.executable, "-m", "ganbench", "run", str(tiny_suite), "--resume"]
    processes = [spawn(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = sorted(p.wait(timeout=300) for p in processes)
    errors = [p.stderr.read() for p in processes]
    assert codes == [0, 2], errors
    assert any("in use by ganbench process" in e for e in errors)
    run_dir = only_run(workdir)
    result = result_of(run_dir)
    for fragment in (run_dir / "jobs").iterdir():
        seed = json.loads(fragment.read_text())["seed"]
        per_seed = result["results"]["mlp-gan"]["ring-8"]["modes_covered"]["per_seed"]
        assert (
            per_seed[str(seed)]
            == json.loads(fragment.read_text())["measurements"]["modes_covered"]["value"]
        )


def test_a_stale_lock_is_taken_over_and_a_foreign_host_lock_is_not(tmp_path):
    """#4: a lock whose process is gone is stale; one from another host may be alive."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / run_lock.LOCK_FILE
    lock.write_text(json.dumps({"pid": dead.pid, "host": platform.node(), "started": "x"}))
    with run_lock.locked(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(GanbenchError, match="on host elsewhere"), run_lock.locked(tmp_path):
        pass


@pytest.mark.e2e  # trains a run: the full tier
def test_resume_at_another_commit_is_refused_unless_forced(
    tiny_suite, workdir, monkeypatch, capsys
):
    """#14: a run started at one commit is not silently continued at another; --force
    continues it and records that it did, and every fragment names its commit."""
    counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    started = result_of(only_run(workdir))["commit_info"]["id"]
    monkeypatch.setattr(ganbench.run, "commit_info", lambda **_: {"id": "f" * 40, "dirty": False})
    capsys.readouterr()
    assert main(["run", str(tiny_suite), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"commit {started} -> {'f' * 40}" in err and "--force" in err
    counting_train(monkeypatch)
    assert main(["run", str(tiny_suite), "--resume", "--force"]) == 0
    run_dir = only_run(workdir)
    (resumed,) = result_of(run_dir)["resumes"]
    assert resumed["commit"] == "f" * 40 and "commit" in resumed["forced"]
    seed1 = json.loads((run_dir / "jobs" / "mlp-gan__ring-8__seed1.json").read_text())
    assert seed1["provenance"]["commit"] == "f" * 40
    assert "forced: commit" in (run_dir / "table.md").read_text()
    assert main(["run", str(tiny_suite), "--force"]) == 2  # --force means nothing alone


def test_resume_of_another_machines_run_is_refused(tiny_suite, workdir, monkeypatch, capsys):
    """#14: a run in an H100's folder is not continued on this CPU."""
    counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    run_dir = only_run(workdir)
    gpu = run_dir.parent.parent / "nvidia-h100-80gb-hbm3"
    run_dir.parent.rename(gpu)
    capsys.readouterr()
    assert main(["run", str(tiny_suite), "--resume"]) == 2
    assert "machine nvidia-h100-80gb-hbm3 -> cpu-" in capsys.readouterr().err


@pytest.mark.e2e  # trains a run: the full tier
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_is_one_line_and_exit_2(
    tiny_suite, workdir, monkeypatch, capsys, error
):
    """#12: the third write fails: one line naming the path and the errno, exit 2, the
    files written before intact, and --resume finishes the run."""
    writes = []
    real_fsync = os.fsync

    def fsync(fd):
        writes.append(fd)
        if len(writes) == 3:
            raise OSError(error, os.strerror(error))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["run", str(tiny_suite)]) == 2
    out = capsys.readouterr().err
    (err,) = [line for line in out.splitlines() if line.startswith("ganbench: error")]
    assert "Traceback" not in out
    assert errno.errorcode[error] in err and "--resume" in err and "results/runs" in err
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert result_of(only_run(workdir))["complete"] is False
    assert main(["run", str(tiny_suite), "--resume"]) == 0


def test_a_pair_whose_jobs_all_failed_is_a_failed_row(tiny_suite, workdir, monkeypatch, capsys):
    """Smaller: failed jobs showed no row at all; the FAILED message repeated its label."""
    from ganbench.training import TrainingDiverged

    def train(*args, **kwargs):
        raise TrainingDiverged("loss is not finite at step 3")

    monkeypatch.setattr(ganbench.run.job, "train", train)
    assert main(["run", str(tiny_suite)]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out.split("results:")[0]  # in the table itself
    assert "mlp-gan" in captured.out.split("results:")[0]
    line = next(x for x in captured.err.splitlines() if "FAILED" in x)
    assert line.count("ring-8") == 1 and line.endswith("loss is not finite at step 3")
    assert re.search(
        r"\| mlp-gan \| ring-8 +\| FAILED", (only_run(workdir) / "table.md").read_text()
    )


@pytest.mark.e2e  # trains a run: the full tier
def test_smoke_and_busy_values_are_marked_wherever_they_are_shown(
    tiny_suite, workdir, monkeypatch, capsys
):
    """#19: a value from a sample cap is marked as a smoke value; #20: throughput timed at
    a load above the CPUs is marked busy, in the terminal table, table.md and the report."""
    (tiny_suite / "suite.toml").write_text(TINY + "eval_samples = 100\n")
    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))
    assert main(["run", str(tiny_suite)]) == 0
    out = capsys.readouterr().out
    run_dir = only_run(workdir)
    assert main(["report", str(run_dir)]) == 0
    smoke = (  # one caveat, said once for the values it holds for
        "mlp-gan/ring-8/modes_covered, mlp-gan/ring-8/high_quality_fraction, "
        "mlp-gan/ring-8/kl_to_uniform: 100 samples (the budget's eval_samples cap)"
    )
    # said once per metric, with the pairs and the loads (issue 43 #4)
    busy = f"samples_per_second (mlp-gan/ring-8): timed at load 40.0 on {os.cpu_count()} CPUs"
    page = html.unescape((run_dir / "report.html").read_text())
    for text in (out, (run_dir / "table.md").read_text(), page):
        assert smoke in text and busy in text
    table = out.split("units:")[0]
    # 3 capped, and throughput timed while busy; peak memory does not depend on the load
    # (issue 33 #3), so it is not marked
    assert table.count("†") == 4
    assert "peak_memory_mib (" not in out
    m = result_of(run_dir)["results"]["mlp-gan"]["ring-8"]["modes_covered"]
    assert m["settings"]["samples"] == 100 and m["conditions"]["0"]["sample_cap"] == 100
