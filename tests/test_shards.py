"""Job arrays (issue 13 #2, #3): `--shard K/N --run-id ID` runs a share of a suite's jobs
into one run folder; the last shard (or `ganbench merge`) completes the run, which must
equal a local run of the same suite apart from timing and host fields."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ganbench.cli import main
from tests.helpers import comparable, only_result_dir, quality

COMMAND = [sys.executable, "-m", "ganbench", "run", "suites/four"]


@pytest.mark.e2e  # spawns three processes
def test_three_shards_and_a_local_run_give_the_same_result(four, workdir, spawn):
    assert main(["run", "suites/four", "--results-dir", "local"]) == 0
    shards = [
        spawn(
            [*COMMAND, "--shard", f"{k}/3", "--run-id", "array-7", "--results-dir", "sharded"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in range(3)
    ]
    outputs = [shard.communicate(timeout=300)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0, 0], outputs
    local, sharded = only_result_dir(workdir / "local"), only_result_dir(workdir / "sharded")
    assert quality(sharded) == quality(local) and len(quality(local)) == 4
    a, b = comparable(local), comparable(sharded)
    assert a["complete"] and b["complete"]
    assert b["suite"].pop("run_id") == "array-7" and "run_id" not in a["suite"]
    assert a == b
    assert (sharded / "table.md").is_file()


@pytest.mark.e2e  # trains a whole suite in parts: the full tier
def test_merge_names_the_missing_jobs_and_the_last_shard_completes_the_run(four, workdir, capsys):
    args = ["run", "suites/four", "--run-id", "a1", "--shard"]
    assert main([*args, "0/2"]) == 0
    out = capsys.readouterr().out
    assert "shard 0/2 is done; 2 jobs of the run have no fragment yet" in out
    run_dir = only_result_dir(workdir / "results")
    assert not json.loads((run_dir / "result.json").read_text())["complete"]
    assert main(["merge", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert (
        "2 of 4 jobs have no fragment yet: mlp-gan__ring-8__seed1, mlp-gan__grid-25__seed1" in err
    )
    assert main([*args, "1/2"]) == 0  # the last shard: completes the run
    assert json.loads((run_dir / "result.json").read_text())["complete"]
    assert "1 passed" in capsys.readouterr().out
    assert main([*args, "1/2"]) == 0  # again: nothing to train, the run stays complete
    assert "mlp-gan__grid-25__seed1: finished earlier, skipped" in capsys.readouterr().err
    assert main(["merge", str(run_dir)]) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard", "0/2"], "--shard K/N needs --run-id ID"),
        (["--run-id", "x", "--resume"], "--run-id continues its run by itself"),
    ],
)
def test_shard_options_are_checked(four, capsys, extra, message):
    assert main(["run", "suites/four", *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.e2e  # trains: the full tier
def test_a_shard_in_a_fresh_clone_continues_the_committed_run(four, workdir):
    """A job array whose parts run in different sessions commits its fragments in between;
    results/run-ids/ (this machine's claims) is not committed, so the next part finds its
    run by the id its result.json records, instead of starting a second run."""
    args = ["run", "suites/four", "--run-id", "a1", "--shard"]
    assert main([*args, "0/2"]) == 0
    run_dir = only_result_dir(workdir / "results")
    shutil.rmtree(workdir / "results" / "run-ids")
    assert main(["merge", "a1"]) == 2  # found by its recorded id: 1 job still missing
    assert main([*args, "1/2"]) == 0
    assert only_result_dir(workdir / "results") == run_dir
    assert json.loads((run_dir / "result.json").read_text())["complete"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--shard", "2/2"], "K must be in 0..N-1"), (["--run-id", "../x"], "use 1-64 letters")],
)
def test_bad_shard_and_run_id_values_are_usage_errors(four, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "suites/four", "--run-id", "ok", *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
