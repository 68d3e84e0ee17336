"""`ganbench run` end to end: results, tables, pictures, checks, interruption and resume."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.training import TrainingDiverged
from tests.helpers import TINY, TWO_DATASETS, counting_train, only_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METRIC_KEYS = {
    "modes_covered",
    "high_quality_fraction",
    "kl_to_uniform",
    "samples_per_second",
    "peak_memory_mib",
}


@pytest.mark.e2e
def test_quick_mog_suite_writes_results_table_and_pictures(workdir, capsys):
    assert main(["run", "suites/mog", "--quick"]) == 0
    out = capsys.readouterr().out
    run_dir = only_run(workdir)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["complete"] and result["suite"]["quick"]
    for dataset in ("ring-8", "grid-25"):
        metrics = result["results"]["mlp-gan"][dataset]
        assert set(metrics) == METRIC_KEYS
        assert metrics["modes_covered"]["settings"]["samples"] == 2500
        assert (run_dir / "pictures" / f"mlp-gan__{dataset}.png").read_bytes()[:8] == PNG_MAGIC
    # Fixed seed 0, quick budget (1,500 steps): seeds 0-4 cover 7-8 of 8 modes here.
    assert result["results"]["mlp-gan"]["ring-8"]["modes_covered"]["mean"] >= 6
    assert "modes_covered ↑" in out and "kl_to_uniform ↓" in out
    assert "PASSED mlp-gan/ring-8/modes_covered >= 4" in out and "1 passed in" in out
    table_md = (run_dir / "table.md").read_text()
    assert "| mlp-gan | ring-8 " in table_md and "| mlp-gan | grid-25 " in table_md


@pytest.mark.e2e  # trains a run: the full tier
def test_interrupted_run_keeps_finished_jobs_and_resume_skips_them(
    tiny_suite, workdir, monkeypatch, capsys
):
    calls = counting_train(monkeypatch, fail_on=2)
    assert main(["run", str(tiny_suite)]) == 130
    assert "--resume" in capsys.readouterr().err
    run_dir = only_run(workdir)
    partial = json.loads((run_dir / "result.json").read_text())
    assert not partial["complete"]
    assert partial["results"]["mlp-gan"]["ring-8"]["modes_covered"]["n"] == 1
    assert [p.name for p in (run_dir / "jobs").iterdir()] == ["mlp-gan__ring-8__seed0.json"]

    calls = counting_train(monkeypatch)
    assert main(["run", str(tiny_suite), "--resume"]) == 0
    assert calls == [1]  # seed 0 finished before the interruption and was skipped
    assert only_run(workdir) == run_dir
    result = json.loads((run_dir / "result.json").read_text())
    assert result["complete"] and result["results"]["mlp-gan"]["ring-8"]["modes_covered"]["n"] == 2
    assert "1 resumed" in capsys.readouterr().out


@pytest.mark.e2e  # trains a run: the full tier
def test_resume_of_a_finished_run_starts_a_new_one(tiny_suite, workdir, capsys):
    assert main(["run", str(tiny_suite)]) == 0
    assert main(["run", str(tiny_suite), "--resume"]) == 0
    assert "nothing to resume" in capsys.readouterr().err
    assert len(list((workdir / "results" / "runs").glob("*/*"))) == 2


def test_diverged_job_is_reported_and_the_others_are_kept(tiny_suite, workdir, monkeypatch, capsys):
    counting_train(monkeypatch, fail_on=1, error=TrainingDiverged)
    assert main(["run", str(tiny_suite)]) == 1
    assert "FAILED mlp-gan/ring-8/seed0: simulated" in capsys.readouterr().out
    result = json.loads((only_run(workdir) / "result.json").read_text())
    assert result["results"]["mlp-gan"]["ring-8"]["modes_covered"]["per_seed"].keys() == {"1"}


@pytest.mark.e2e  # trains a run: the full tier
def test_failed_check_exits_1(tiny_suite, workdir, capsys):
    (tiny_suite / "suite.toml").write_text(
        TINY + '[checks]\n"mlp-gan/ring-8/modes_covered" = "> 8"\n'
    )
    assert main(["run", str(tiny_suite)]) == 1
    out = capsys.readouterr().out
    assert "FAILED mlp-gan/ring-8/modes_covered > 8" in out and "1 failed in" in out


@pytest.mark.e2e
@pytest.mark.parametrize("command", [["ganbench"], [sys.executable, "-m", "ganbench"]])
def test_console_script_and_module_entry_points(command):
    assert shutil.which(command[0]), "the install did not put the `ganbench` script on PATH"
    out = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ganbench ")


def test_ls_lists_every_registry(workdir, capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    for name in ("suites/mog", "mlp-gan", "ring-8", "grid-25", "mode-coverage", "throughput"):
        assert name in out


def _per_seed(run_dir: Path) -> dict:
    result = json.loads((run_dir / "result.json").read_text())
    return {
        (model, dataset, key): m["per_seed"]
        for model, datasets in result["results"].items()
        for dataset, metrics in datasets.items()
        for key, m in metrics.items()
        if m["metric"] == "mode-coverage"
    }


@pytest.mark.e2e
def test_ensemble_and_workers_give_the_in_process_numbers(tiny_suite, workdir, capsys):
    """Two datasets x one model: the same per-seed mode coverage whether the seeds train
    one by one, stacked as an ensemble, or in two worker processes (spawned: a fresh
    interpreter per worker, its own dataset and metrics)."""
    text = TWO_DATASETS
    (tiny_suite / "suite.toml").write_text(text)
    assert main(["run", str(tiny_suite)]) == 0
    (tiny_suite / "suite.toml").write_text(text + "[training]\nensemble = true\n")
    assert main(["run", str(tiny_suite)]) == 0
    assert main(["run", str(tiny_suite), "--workers", "2"]) == 0
    assert "2 worker processes" in capsys.readouterr().err
    runs = sorted((workdir / "results" / "runs").glob("*/*"))
    single, stacked, workers = (_per_seed(r) for r in runs)
    assert len(single) == 6  # 2 datasets x 3 mode-coverage keys
    assert stacked == single and workers == stacked


@pytest.mark.e2e  # trains a run: the full tier
def test_only_runs_the_matching_pairs(tiny_suite, workdir, capsys):
    text = TWO_DATASETS
    (tiny_suite / "suite.toml").write_text(text)
    assert main(["run", str(tiny_suite), "--only", "*/grid-25"]) == 0
    result = json.loads((only_run(workdir) / "result.json").read_text())
    assert list(result["results"]["mlp-gan"]) == ["grid-25"] and result["suite"]["only"] == [
        "*/grid-25"
    ]
    assert main(["run", str(tiny_suite), "--only", "dcgan/*"]) == 2
    assert "matches no MODEL/DATASET" in capsys.readouterr().err
