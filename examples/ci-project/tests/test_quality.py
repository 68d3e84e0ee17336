"""The project's own pytest gate, on the generator the CI job just trained.

CI first runs `ganbench run suites/gate --seeds N` (which trains tinygan the way
the suite says); this test rebuilds that generator from the run's checkpoint and
measures it through the ganbench pytest plugin. With `--ganbench-baseline
baseline/pytest.json` it also holds the values to the stored ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganbench.evaluate import trained_gan
from ganbench.results.files import load_result
from ganbench.results.store import ResultsStore

RESULTS = Path(os.environ.get("GANBENCH_RESULTS", "results"))
SAMPLES = {"fid-mnist": {"samples": 2000}, "is-mnist": {"samples": 2000}}


def newest_gate_run() -> tuple[Path, dict]:
    runs = [r for r in ResultsStore(RESULTS).run_dirs() if r.name.endswith("_tinygan-gate")]
    if not runs:
        pytest.skip(f"no suites/gate run under {RESULTS}: run `ganbench run suites/gate` first")
    return runs[-1], load_result(runs[-1])


def test_generator_makes_digits(ganbench_eval, ganbench_baseline):
    run, result = newest_gate_run()
    gan, _ = trained_gan(run, "tinygan", "mnist", result["suite"]["budget"]["seeds"][0])
    measured = ganbench_eval(
        generator=gan.generator,
        dataset="mnist",
        metrics=["fid-mnist", "is-mnist"],
        latent_dim=gan.latent_dim,
        metric_params=SAMPLES,
    )
    if not result["suite"]["quick"]:  # a --quick smoke run has no digits yet
        # A floor that no working generator misses: a collapsed one scores about 1.
        assert measured["mnist_score"] > 1.5
    if ganbench_baseline is not None:  # pytest --ganbench-baseline baseline/pytest.json
        assert measured["fid_mnist"] <= ganbench_baseline["fid_mnist"] * 1.5
