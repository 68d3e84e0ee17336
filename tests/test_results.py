"""Result files: atomic writes, aggregation over seeds, schema round-trip, clear errors."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import replace

import pytest

from ganbench.errors import GanbenchError, WriteFailed
from ganbench.results.files import (
    SCHEMA_VERSION,
    RunFolder,
    aggregate,
    atomic_write_text,
    load_result,
    read_json,
    write_json,
)
from ganbench.results.store import ResultsStore, RunRequest
from tests.helpers import committed_run


def test_failure_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old")

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(WriteFailed, match=r"result\.json: cannot write: disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def fragment(seed, value, settings=None, status="ok"):
    return {
        "schema_version": SCHEMA_VERSION,
        "model": "m",
        "dataset": "d",
        "seed": seed,
        "status": status,
        "error": None,
        "training": None,
        "measurements": {
            "x": {
                "metric": "x",
                "value": value,
                "unit": "u",
                "higher_is_better": True,
                "settings": settings or {"n": 1},
            }
        },
    }


def test_aggregate_is_mean_and_sample_std_over_finished_seeds():
    values = [1.0, 2.0, 4.0]
    frags = [fragment(s, v) for s, v in enumerate(values)] + [fragment(9, 100.0, status="failed")]
    m = aggregate(frags)["m"]["d"]["x"]
    assert m["mean"] == pytest.approx(statistics.fmean(values))
    assert m["std"] == pytest.approx(statistics.stdev(values))
    assert (m["n"], m["per_seed"]) == (3, {"0": 1.0, "1": 2.0, "2": 4.0})


def test_aggregate_of_one_seed_has_zero_std_and_none_values_are_not_averaged():
    assert aggregate([fragment(0, 3.0)])["m"]["d"]["x"]["std"] == 0.0
    m = aggregate([fragment(0, None), fragment(1, 2.0)])["m"]["d"]["x"]
    assert (m["mean"], m["n"], m["per_seed"]) == (2.0, 1, {"0": None, "1": 2.0})


def test_aggregate_refuses_seeds_measured_with_different_settings():
    with pytest.raises(GanbenchError, match="m/d/x: seed 1 was measured with settings"):
        aggregate([fragment(0, 1.0, {"n": 1}), fragment(1, 1.0, {"n": 2})])


def test_seeds_timed_with_other_threads_are_told_how_to_match_them():
    one, two = ({"device": f"cpu x86_64 x{n} threads", "batch_size": 32} for n in (1, 2))
    with pytest.raises(GanbenchError, match="the torch threads differ: continue with as many"):
        aggregate([fragment(0, 1.0, two), fragment(1, 1.0, one)])
    with pytest.raises(GanbenchError, match="re-run without --resume") as other:
        aggregate([fragment(0, 1.0, two), fragment(1, 1.0, {**one, "batch_size": 64})])
    assert "threads differ" not in str(other.value)  # other settings too: only a re-run


def test_result_round_trips_and_nan_becomes_null(tmp_path):
    result = {
        "schema_version": SCHEMA_VERSION,
        "suite": {"name": "s"},
        "datetime": "now",
        "machine_info": {},
        "commit_info": {"id": "abc", "dirty": False},
        "results": {"m": {"d": {"x": {"mean": float("nan"), "per_seed": {"0": 1.5}}}}},
    }
    write_json(tmp_path / "result.json", result)
    loaded = read_json(tmp_path / "result.json", "result")
    assert loaded["results"]["m"]["d"]["x"] == {"mean": None, "per_seed": {"0": 1.5}}
    assert loaded["commit_info"] == result["commit_info"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a valid ganbench result file (JSON error"),
        ("[]", "expected a JSON object"),
        (json.dumps({"schema_version": 99}), "schema_version is 99, this ganbench"),
        (
            json.dumps({"schema_version": SCHEMA_VERSION, "suite": {}}),
            "field ganbench_version is missing",
        ),
    ],
)
def test_bad_result_files_are_named_with_the_fix(tmp_path, content, message):
    path = tmp_path / "result.json"
    path.write_text(content)
    with pytest.raises(GanbenchError) as error:
        load_result(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_run_numbers_increase_across_machines(tmp_path):
    store = ResultsStore(tmp_path)
    first = store.new_run("cpu-x86-64", "abcdef1234", "mog")
    second = store.new_run("nvidia-h100", "abcdef1234", "mog")
    assert first.name.startswith("0001_abcdef12_") and second.name.startswith("0002_")
    assert store.run_dirs() == [first, second]


def test_runs_left_in_the_results_folder_do_not_make_the_tree_dirty(tmp_path):
    """Defect: every run after the first in a clone was labelled "(dirty)" because the
    first run's untracked folder under results/ counted as a change."""
    import subprocess

    from ganbench.results.files import commit_info

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    (tmp_path / "results" / "runs" / "cpu" / "0001_x").mkdir(parents=True)
    (tmp_path / "results" / "runs" / "cpu" / "0001_x" / "result.json").write_text("{}")
    assert commit_info(tmp_path, tmp_path / "results")["dirty"] is False
    (tmp_path / "new_module.py").write_text("")  # untracked source: dirty
    assert commit_info(tmp_path, tmp_path / "results")["dirty"] is True
    (tmp_path / "new_module.py").unlink()
    (tmp_path / "code.py").write_text("x = 2\n")  # tracked change: dirty
    assert commit_info(tmp_path, tmp_path / "results")["dirty"] is True


def _header() -> dict:
    """Committed run 0006's result.json, unfinished: a run of suites/mog to continue."""
    header = json.loads((committed_run(6) / "result.json").read_text())
    return {**header, "complete": False}


HEADER = _header()
HERE = {
    "commit": HEADER["commit_info"]["id"],
    "dirty": False,
    "machine": "cpu-x86-64",
    "node": "n",
    "torch": HEADER["machine_info"]["torch"],
}
MOG = RunRequest("mog", HEADER["suite"]["hash"], budget_name=None, seeds=None, only=(), quick=False)


def test_a_run_folder_answers_its_number_and_machine(tmp_path):
    store = ResultsStore(tmp_path)
    folder = RunFolder(store.new_run("nvidia-h100", "abcdef1234", "mog"))
    assert (folder.number, folder.run, folder.machine) == (1, "0001", "nvidia-h100")
    assert folder.ref == f"nvidia-h100/{folder.path.name}"
    assert ResultsStore.run_key(folder.path) == ("nvidia-h100", folder.path.name)


def test_open_run_creates_a_new_run_locked_and_resumes_it_by_its_options(tmp_path):
    store = ResultsStore(tmp_path)
    request = MOG
    with store.open_run(request, HERE, ["a"]) as opened:
        assert opened.result is None and opened.fragments == {}
        assert (opened.folder.path / ".lock").is_file()
        opened.folder.write_result(_header())
    assert not (opened.folder.path / ".lock").exists()
    with store.open_run(replace(request, resume=True), HERE, ["a"]) as again:
        assert again.folder == opened.folder and [r["node"] for r in again.result["resumes"]] == [
            "n"
        ]
    with store.open_run(replace(request, resume=True, seeds=(1,)), HERE, ["a"]) as other:
        assert other.folder.number == 2  # other seeds: not the same run


def test_open_run_refuses_a_run_started_elsewhere_unless_forced(tmp_path):
    store = ResultsStore(tmp_path)
    request = replace(MOG, resume=True)
    with store.open_run(request, HERE, []) as opened:
        opened.folder.write_result(_header())
    elsewhere = {**HERE, "commit": "d" * 40}
    refused = r"started elsewhere \(commit 55d5bd0c\w+ -> d+\)"
    with pytest.raises(GanbenchError, match=refused), store.open_run(request, elsewhere, []):
        pass
    with store.open_run(replace(request, force=True), elsewhere, []) as forced:
        assert forced.result["resumes"][0]["forced"].startswith("commit ")


def test_a_new_run_that_fails_before_writing_leaves_no_folder(tmp_path):
    """A missing dataset or a broken factory stops a run before its first write: no empty
    run folder (nor results/runs/<machine>/ made for it) is left behind."""
    store = ResultsStore(tmp_path / "results")
    with pytest.raises(GanbenchError, match="missing dataset"), store.open_run(MOG, HERE, []):
        raise GanbenchError("missing dataset")
    assert not (tmp_path / "results").exists()
    other = store.new_run("cpu-x86-64", "abcdef1234", "mnist")  # another run arrives
    with pytest.raises(KeyboardInterrupt), store.open_run(MOG, HERE, []):
        raise KeyboardInterrupt
    assert store.run_dirs() == [other]
