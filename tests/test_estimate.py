"""The time estimate `ganbench run` prints before training, against measured wall time."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from ganbench.cli import main
from ganbench.data.mog import ring_8
from ganbench.run import estimate
from ganbench.suite import Budget, load
from ganbench.training import GAN, train

CPU = torch.device("cpu")
SLEEP_S = 0.01


class SlowGenerator(nn.Module):
    """A generator whose forward pass takes SLEEP_S: a known cost per call."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        time.sleep(SLEEP_S)
        return self.net(z)


def slow_gan() -> GAN:
    return GAN(SlowGenerator(), nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)), 2, 1e-3, 1e-3)


@pytest.mark.parametrize(
    "seconds, text", [(40.4, "40 s"), (0.2, "1 s"), (150, "2 min"), (9600, "2 h 40 min")]
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert estimate.duration(seconds) == text


@pytest.mark.e2e  # trains a run: the full tier
def test_training_estimate_matches_the_measured_run_within_a_third():
    """Per-step cost measured on a few steps, times the budget's steps, against the
    training time of the real run (the loop's own clock, warm-up steps included): within
    33 % (the sleep dominates, so the machine's load barely moves either figure). Not the
    call's wall time: that adds the per-job memory reset (a gc.collect, which late in a
    long pytest session took 0.5 s, as long as 30 of these steps)."""
    data = ring_8()
    per_step = estimate.seconds_per_step(slow_gan, data, 1, 16, CPU, 60)
    assert per_step >= SLEEP_S
    record = train(slow_gan(), data, steps=60, batch_size=16, device=CPU, seed=0, log_points=1)
    assert per_step * 60 == pytest.approx(record.seconds, rel=0.33)


def test_images_counted_per_extractor(tmp_path):
    """fid-mnist and is-mnist at 100 samples, 2 seeds, 1 model: they share one pass over
    100 generated images per seed, and fid-mnist embeds 100 real ones once: 2 x 100 + 100
    through the MNIST classifier (not 2 x (2 x 100 + 100): the estimate follows the
    evaluation's sharing)."""
    (tmp_path / "suite.toml").write_text(
        'name = "t"\nversion = 1\n[[datasets]]\nname = "mnist"\n[[models]]\nname = "dcgan"\n'
        '[[metrics]]\nname = "fid-mnist"\nsamples = 100\n[[metrics]]\nname = "is-mnist"\n'
        'samples = 100\n[[metrics]]\nname = "throughput"\n'
        "[budget]\nsteps = 2\nbatch_size = 4\nseeds = [0, 1]\n"
    )
    suite = load(tmp_path)
    assert estimate.extractor_images(suite, suite.budget, 2) == {("mnist-classifier", ""): 300}
    # a shard of a job array that runs one of the two jobs: 100 generated + 100 real (its
    # estimate counted every job of the suite: 3 h 51 min for a 1-hour shard of mnist)
    assert estimate.extractor_images(suite, suite.budget, 1, models=1) == {
        ("mnist-classifier", ""): 200
    }
    capped = Budget(2, 4, (0, 1), eval_samples=10)
    assert estimate.extractor_images(suite, capped, 2) == {("mnist-classifier", ""): 30}
    # Measured during training every 10 of 45 steps: at 10, 20, 30, 40 and the end, which
    # the final measurement (and is-mnist) shares: 2 x 100 x 5 generated + 100 real.
    (tmp_path / "suite.toml").write_text(
        (tmp_path / "suite.toml").read_text().replace("steps = 2", "steps = 45")
        + '[training]\neval_every = 10\neval_metrics = ["fid-mnist"]\n'
    )
    suite = load(tmp_path)
    assert estimate.extractor_images(suite, suite.budget, 2) == {("mnist-classifier", ""): 1100}


def test_stacked_digits_are_counted_and_probed_one_channel_at_a_time():
    """stacked-mnist-modes classifies each of a sample's 3 channels: 3 images per sample,
    timed on 1x28x28 images (the run refused to start when the probe fed 3x28x28 ones)."""
    suite = load("suites/pacgan-stacked-mnist")
    budget = suite.budgets["cpu"]
    counts = estimate.extractor_images(suite, budget, len(budget.seeds), channels=3)
    assert counts == {
        ("mnist-classifier", ""): 3 * 2600 * 2 * 2
    }  # channels x samples x seeds x models
    assert estimate.images_per_second(("mnist-classifier", ""), (3, 28, 28), CPU) > 0


def test_the_inversion_search_is_in_the_estimate(tmp_path):
    """256 images x (4 starts x 20 steps + 80 steps) = 40,960 generator passes per seed,
    each costed as a training sample: at 64 ms per step of 64 samples, 2 seeds, 81.92 s."""
    (tmp_path / "suite.toml").write_text(
        'name = "t"\nversion = 1\n[[datasets]]\nname = "mnist"\n[[models]]\nname = "dcgan"\n'
        '[[metrics]]\nname = "inversion"\n[budget]\nsteps = 2\nbatch_size = 64\nseeds = [0, 1]\n'
    )
    suite = load(tmp_path)
    seconds = estimate.search_seconds(suite, suite.budget, {("dcgan", "mnist"): 0.064})
    assert seconds == pytest.approx(81.92)


@pytest.mark.e2e  # trains a run: the full tier
def test_a_gpu_budget_on_a_cpu_warns_and_names_the_cheaper_budgets(workdir, capsys):
    folder = workdir / "suites" / "gpu-sized"
    folder.mkdir()
    (folder / "suite.toml").write_text(
        'name = "gpu-sized"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\n'
        'name = "mlp-gan"\nhidden = 8\n[[metrics]]\nname = "throughput"\n'
        '[budget]\nsteps = 3\nbatch_size = 8\nseeds = [0]\nsized_for = "gpu"\n'
        "[quick]\nsteps = 2\nbatch_size = 8\nseeds = [0]\n"
        '[budgets.laptop]\nsteps = 2\nsized_for = "cpu"\n'
    )
    assert main(["run", str(folder), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "estimate: about " in err and " on this CPU (training " in err
    assert "--quick takes about" in err and "--budget laptop takes about" in err
    assert "warning: this budget is sized for a GPU" in err
    assert main(["run", str(folder), "--device", "cpu", "--budget", "laptop"]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(("load", "noted"), [(40.0, True), (0.1, False)])
def test_an_estimate_timed_on_a_busy_machine_says_so(workdir, capsys, monkeypatch, load, noted):
    """issue 34, smaller: start-of-run estimates were 5-6x too low at load 4 on 2 CPUs."""
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    (workdir / "suites" / "tiny").mkdir()
    (workdir / "suites" / "tiny" / "suite.toml").write_text(
        'name = "tiny"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\n'
        'name = "mlp-gan"\nhidden = 8\n[[metrics]]\nname = "throughput"\n'
        "[budget]\nsteps = 2\nbatch_size = 8\nseeds = [0]\n"
    )
    assert main(["run", "suites/tiny", "--device", "cpu"]) == 0
    note = f"note: timed now at load {load:.1f} on {os.cpu_count()} CPUs"
    assert (note in capsys.readouterr().err) == noted


@pytest.mark.e2e  # trains a run: the full tier
def test_a_budget_may_skip_the_suites_checks(workdir, capsys):
    """`checks = false` in [quick]: a smoke run reports no check (and cannot fail one);
    the full budget applies them."""
    folder = workdir / "suites" / "checked"
    folder.mkdir()
    (folder / "suite.toml").write_text(
        'name = "checked"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\n'
        'name = "mlp-gan"\nhidden = 8\n[[metrics]]\nname = "mode-coverage"\nsamples = 100\n'
        "[budget]\nsteps = 2\nbatch_size = 8\nseeds = [0]\n"
        "[quick]\nsteps = 2\nchecks = false\n"
        '[checks]\n"mlp-gan/ring-8/modes_covered" = ">= 9"\n'
    )
    assert main(["run", str(folder), "--quick"]) == 0
    assert "modes_covered >= 9" not in capsys.readouterr().out
    assert main(["run", str(folder)]) == 1
    assert "FAILED mlp-gan/ring-8/modes_covered >= 9" in capsys.readouterr().out


def test_a_resumed_job_is_estimated_for_the_steps_it_has_left(tmp_path):
    """A shard restarted after its training finished (a checkpoint at the last step) was
    announced as the whole budget's training ("about 1 h 27 min" for evaluation alone)."""
    from ganbench.training import build_model

    (tmp_path / "suite.toml").write_text(
        'name = "t"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\nname = "mlp-gan"\n'
        '[[metrics]]\nname = "throughput"\n[budget]\nsteps = 400\nbatch_size = 16\nseeds = [0]\n'
    )
    suite = load(tmp_path)
    model, dataset = suite.models[0], suite.datasets[0]
    data = {dataset.label: ring_8()}

    def training_s(done: int) -> float:
        groups = [estimate.Group(model, dataset, 1, done)]
        build = lambda m, d: build_model(m.name, d, m.params)  # noqa: E731
        return estimate.estimate(suite, groups, data, suite.budget, CPU, build)[0].training_s

    assert training_s(0) > 0
    assert training_s(400) == 0.0
