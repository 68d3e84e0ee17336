"""A job that raises is one FAILED job, not a dead run; SIGTERM is Ctrl-C; workers never
outlive the run (issue 23, items 1-4). Each test fails on the code before the fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ganbench.run
import ganbench.run.job
from ganbench.cli import main
from tests.helpers import TINY, counting_train, only_run

#: A user's GAN whose generator raises on its 15th call: after the contract check, in
#: the middle of training (each step calls the generator once or twice).
RAISING_MODEL = """
import torch
from torch import nn
from ganbench.baselines.mlp_gan import mlp_gan


class Flaky(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, z):
        self.calls += 1
        if self.calls == 15:
            raise RuntimeError("the generator broke")
        return self.inner(z)


def make(data, *, hidden: int = 16):
    gan = mlp_gan(data, hidden=hidden)
    gan.generator = Flaky(gan.generator)
    return gan
"""

#: A user's metric that cannot measure anything (as prdc on a 2-image test split).
FAILING_METRIC = """
def make():
    def measure(ctx):
        raise ValueError("needs more than 2 test images for k = 3")
    return measure
make.ganbench_meta = {"keys": ("never",)}
"""


def _suite(workdir: Path, text: str) -> Path:
    folder = workdir / "suites" / "flaky"
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(text)
    return folder


def _with_user_metric(workdir: Path, module: str, source: str) -> Path:
    """TINY with the metric `module:make` (written beside the suite) before its own."""
    metric = f'[[metrics]]\nname = "{module}:make"\n[[metrics]]'
    folder = _suite(workdir, TINY.replace("[[metrics]]", metric, 1))
    (folder / f"{module}.py").write_text(source)
    return folder


@pytest.mark.e2e  # trains a whole suite: the full tier
def test_a_job_that_raises_is_failed_and_the_other_jobs_run(workdir, capsys):
    folder = _suite(
        workdir,
        TINY.replace(
            "[[metrics]]", '[[models]]\nname = "flaky_gan:make"\nlabel = "flaky"\n[[metrics]]', 1
        ),
    )
    (folder / "flaky_gan.py").write_text(RAISING_MODEL)
    assert main(["run", str(folder), "--device", "cpu"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    failed = [
        line for line in captured.out.splitlines() if line.startswith("FAILED flaky/ring-8/seed")
    ]
    assert len(failed) == 2 and all("flaky" in line for line in failed)
    assert "RuntimeError: the generator broke (at flaky_gan.py:" in failed[0]
    result = json.loads((only_run(workdir) / "result.json").read_text())
    assert result["complete"] and result["jobs"]["finished"] == 4
    assert set(result["results"]) == {"mlp-gan"}  # the healthy model's jobs all ran
    # The run is complete: --resume does not retry a failure that would recur; it starts
    # a new run (after the cause is fixed, that is the retry).
    assert main(["run", str(folder), "--resume", "--device", "cpu"]) == 1
    assert "nothing to resume" in capsys.readouterr().err


def test_a_metric_that_raises_fails_its_job_not_the_run(workdir, capsys):
    folder = _with_user_metric(workdir, "boom", FAILING_METRIC)
    assert main(["run", str(folder), "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED mlp-gan/ring-8/seed") == 2
    assert "ValueError: needs more than 2 test images for k = 3" in out
    fragment = json.loads(next((only_run(workdir) / "jobs").glob("*seed0.json")).read_text())
    assert fragment["status"] == "failed"


def test_divergence_in_the_estimates_probe_does_not_stop_the_healthy_model(workdir, capsys):
    folder = _suite(
        workdir,
        TINY.replace(
            "[[metrics]]", '[[models]]\nname = "mlp-gan"\nlabel = "wild"\nlr = 1e5\n[[metrics]]', 1
        ),
    )
    code = main(["run", str(folder), "--device", "cpu"])
    captured = capsys.readouterr()
    assert "not timed, its probe failed" in captured.err and "Traceback" not in captured.err
    result = json.loads((only_run(workdir) / "result.json").read_text())
    assert "mlp-gan" in result["results"]  # the healthy model trained
    assert code == (1 if result["jobs"]["failed"] else 0)


def _start(spawn, suite: Path, *extra: str, **kwargs) -> subprocess.Popen:
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return spawn(
        [sys.executable, "-m", "ganbench", "run", str(suite), "--device", "cpu", *extra],
        **{**streams, **kwargs},
    )


def _wait_for(
    condition,
    process: subprocess.Popen,
    what: str,
    seconds: float = 120,
    stderr: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else stderr()
            raise AssertionError(f"the run ended before {what}: {err}")
        assert time.monotonic() < deadline, f"no {what} in {seconds} s"
        time.sleep(0.05)


@pytest.mark.e2e
def test_sigterm_keeps_finished_jobs_releases_the_lock_and_says_how_to_resume(workdir, spawn):
    suite = _suite(workdir, TINY.replace("steps = 20", "steps = 3000"))
    process = _start(spawn, suite)
    runs = workdir / "results" / "runs"
    _wait_for(lambda: list(runs.glob("*/*/jobs/*seed0.json")), process, "finished job")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "interrupted after 1 of 2 jobs" in err and "--resume" in err
    run_dir = only_run(workdir)
    assert not list(run_dir.glob(".lock*"))
    assert (run_dir / "jobs" / "mlp-gan__ring-8__seed0.json").is_file()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ")[1].startswith("Z"))


def _workers_training(
    workdir: Path, spawn, **kwargs
) -> tuple[subprocess.Popen, list[int], Callable[[], str]]:
    """A `--workers 2` run whose two workers (and the resource tracker) are training: the
    process, its children and a reader of its stderr. It waits for each worker's first
    training line rather than for a time: a worker still importing torch on a loaded
    machine has not yet asked to die with its parent, and a fixed sleep once made that
    test fail inside a whole-suite run."""
    suite = _suite(
        workdir,
        TINY.replace("steps = 20", "steps = 100000").replace(
            "[[models]]", '[[datasets]]\nname = "grid-25"\n[[models]]'
        ),
    )
    err = workdir / "run.err"
    with err.open("w") as stream:
        process = _start(
            spawn, suite, "--workers", "2", stdout=subprocess.DEVNULL, stderr=stream, **kwargs
        )
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    _wait_for(
        lambda: all(f"[{k}/4] " in err.read_text() for k in (1, 2)),  # 2 seeds x 2 datasets
        process,
        "training",
        stderr=err.read_text,
    )
    return process, [int(p) for p in children.read_text().split()], err.read_text


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_parent_stops_its_workers_at_once(workdir, spawn, signum):
    """SIGTERM or SIGINT to the parent alone (Slurm's scancel, `kill`, Ctrl-C at a
    terminal): the workers stop within their grace period, no process outlives the run,
    and the exit says how to resume."""
    process, pids, stderr = _workers_training(workdir, spawn)
    started = time.monotonic()
    process.send_signal(signum)
    process.wait(timeout=60)
    err = stderr()
    assert time.monotonic() - started < 20
    assert process.returncode == 128 + signum, err
    assert "continue with: ganbench run" in err
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)]
    assert not list(only_run(workdir).glob(".lock*"))


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_workers_die_with_a_parent_killed_by_sigkill(workdir, spawn):
    """issue 34 #7: SIGKILL gives the parent no chance to stop its workers; they trained
    on under PID 1, about 800 MB each, then blocked for over 100 s."""
    process, pids, _ = _workers_training(workdir, spawn)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)]


@pytest.mark.e2e
def test_a_run_started_with_sigint_ignored_keeps_ignoring_it(workdir, spawn):
    """issue 35: a shell starts a background command (`ganbench run ... &` in a script,
    nohup) with SIGINT ignored, so that Ctrl-C at the terminal does not stop it. ganbench
    keeps that choice, as Python and the shell's own tools do; SIGTERM still stops it."""
    process, _, stderr = _workers_training(workdir, spawn, sigint_ignored=True)
    process.send_signal(signal.SIGINT)
    time.sleep(2)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr()


@pytest.mark.e2e  # trains a run: the full tier
def test_merge_takes_the_run_id_and_what_run_ids_records(tiny_suite, workdir, capsys):
    """issue 23 #13: `ganbench merge ID` and `merge cpu-.../0001_...` (the content of
    results/run-ids/ID/run) were 'no such file, and not a run number'."""
    assert main(["run", str(tiny_suite), "--run-id", "arr", "--shard", "0/2"]) == 0
    recorded = (workdir / "results" / "run-ids" / "arr" / "run").read_text().strip()
    for reference in ("arr", recorded):
        capsys.readouterr()
        assert main(["merge", reference]) == 2
        assert "1 of 2 jobs have no fragment yet: mlp-gan__ring-8__seed1" in capsys.readouterr().err
    assert main(["run", str(tiny_suite), "--run-id", "arr", "--shard", "1/2"]) == 0
    assert json.loads((only_run(workdir) / "result.json").read_text())["complete"]


@pytest.mark.parametrize("where", ["a-file", "/proc/ganbench-events"])
def test_an_unwritable_tensorboard_folder_is_refused_before_training(
    tiny_suite, workdir, capsys, where
):
    """issue 23 #8: a file, /proc or /sys as --tensorboard was a traceback after job 1."""
    (workdir / "a-file").write_text("not a folder")
    assert main(["run", str(tiny_suite), "--tensorboard", where]) == 2
    assert f"--tensorboard {Path(where).resolve()}: cannot write events there" in (
        capsys.readouterr().err
    )
    assert not (workdir / "results").exists()  # nothing trained, no run folder


@pytest.mark.e2e  # trains a run: the full tier
def test_resume_with_tensorboard_writes_the_events_of_jobs_finished_before(
    tiny_suite, workdir, monkeypatch, capsys
):
    """issue 23 #8: the job finished before `--resume --tensorboard DIR` never got its
    events; and events are written whole (beside, then renamed), never half."""
    real_train = ganbench.run.job.train
    counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    monkeypatch.setattr(ganbench.run.job, "train", real_train)
    assert main(["run", str(tiny_suite), "--resume", "--tensorboard", "tb"]) == 0
    assert "mlp-gan__ring-8__seed0: finished earlier, skipped" in capsys.readouterr().err
    written = sorted(p.parent.name for p in (workdir / "tb").glob("*/events.out.tfevents.*"))
    assert written == ["mlp-gan__ring-8__seed0", "mlp-gan__ring-8__seed1"]
    assert not list((workdir / "tb").glob(".*"))  # no staging folder left


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1:1", "--address 127.0.0.1:1: no Ray cluster answers at 127.0.0.1:1"),
        ("ray://127.0.0.1:1", "--address ray://127.0.0.1:1: no Ray cluster answers"),
        ("auto", "--address auto: no Ray cluster runs on this machine"),
        ("nonsense", "--address 'nonsense': expected HOST:PORT"),
    ],
)
def test_a_ray_address_with_nothing_behind_it_is_one_line_in_seconds(
    tiny_suite, workdir, monkeypatch, capsys, address, message
):
    """issue 23 #9: a traceback after 36 s, a traceback, and a hang of over 120 s."""
    from ganbench.runtime import ray_cluster

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray_cluster, "CURRENT_CLUSTER", workdir / "no-cluster")
    started = time.monotonic()
    code = main(["run", str(tiny_suite), "--executor", "ray", "--address", address])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert time.monotonic() - started < 10
    assert not (workdir / "results").exists()


@pytest.mark.parametrize(
    ("greeting", "ray_like"),
    [(b"", False), (b"SSH-2.0-x\r\n", False), (bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]), True)],
)
def test_an_address_that_answers_tcp_but_not_grpc_is_refused_in_seconds(
    tiny_suite, workdir, monkeypatch, capsys, greeting, ray_like
):
    """issue 34 #8: a server that accepts TCP but is not Ray passed the check, then Ray's
    GCS client retried for ever and left an empty run folder. A silent server, one of
    another protocol, and (for contrast) one that answers HTTP/2 as gRPC does."""
    import socket
    import threading

    from ganbench.runtime import ray_cluster

    monkeypatch.setattr(ray_cluster, "CONNECT_TIMEOUT_S", 1.0)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    finished = threading.Event()

    def answer():
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            if greeting:
                conn.sendall(greeting)
            finished.wait(5)  # the connection stays open until the check has decided

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        if ray_like:
            ray_cluster.check_address(f"127.0.0.1:{port}")  # passes: a gRPC greeting came
        else:
            assert (
                main(
                    ["run", str(tiny_suite), "--executor", "ray", "--address", f"127.0.0.1:{port}"]
                )
                == 2
            )
            assert (
                f"something listens at 127.0.0.1:{port} but it is not Ray"
                in capsys.readouterr().err
            )
            assert not (workdir / "results").exists()
        assert time.monotonic() - started < 5
    finally:
        finished.set()
        server.close()
        thread.join(5)


NAN_METRIC = """
from ganbench.metrics.base import Measurement

def make():
    def measure(ctx):
        return {"score": Measurement(float("nan"), "", True, {})}
    return measure
make.ganbench_meta = {"keys": ("score",)}
"""


def test_a_metric_returning_nan_shows_what_the_file_keeps(workdir, capsys):
    """issue 23 #14: the terminal said `nan` while result.json stored null."""
    folder = _with_user_metric(workdir, "nanny", NAN_METRIC)
    assert main(["run", str(folder), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("mlp-gan"))
    assert "nan" not in row.lower() and "not a finite value (nan)" in out
    fragment = json.loads(next((only_run(workdir) / "jobs").glob("*seed0.json")).read_text())
    score = fragment["measurements"]["score"]
    assert score["value"] is None and score["conditions"]["note"] == "not a finite value (nan)"


def test_the_continue_line_keeps_the_flags_that_find_the_run():
    """An interrupted run prints the command that continues it; --resume finds a run by
    its seeds, budget and --only, so a line without --seeds started a new run instead."""
    from ganbench.cli import build_parser
    from ganbench.cli.run import continued

    flags = ["--budget", "cpu", "--only", "dcgan/*", "--seeds", "5,6", "--device", "cpu"]
    line = continued(build_parser().parse_args(["run", "suites/x", *flags]))
    assert line == "ganbench run suites/x " + " ".join(flags).replace("dcgan/*", "'dcgan/*'") + (
        " --resume"
    )
    again = build_parser().parse_args(line.replace("'", "").split()[1:])
    assert (again.seeds, again.only, again.budget, again.resume) == (
        (5, 6),
        ["dcgan/*"],
        "cpu",
        True,
    )


@pytest.mark.e2e
def test_ctrl_c_at_a_terminal_stops_the_run_and_its_workers_in_one_message(workdir, spawn):
    """Ctrl-C at a terminal signals the whole process group, workers too. issue 34: each
    worker printed `Process SpawnProcess-2:` and a KeyboardInterrupt traceback under the
    run's own message; the run alone answers Ctrl-C, and stops its workers."""
    process, pids, stderr = _workers_training(workdir, spawn)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    err = stderr()
    assert process.returncode == 130, err
    assert "continue with: ganbench run" in err
    assert "SpawnProcess" not in err and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)]
