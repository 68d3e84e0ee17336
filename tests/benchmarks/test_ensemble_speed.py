"""Seeds trained as one ensemble vs one after another: the MLPs of suites/pacgan-mog
(PacGAN2, batch 100) and suites/veegan-mog (batch 500).

pytest tests/benchmarks/test_ensemble_speed.py --runslow --benchmark-enable -s
trains 10 seeds both ways in interleaved rounds (sequential, ensemble, ensemble,
sequential, ...) in one process, so that a neighbour's load hits both alike, and
prints the samples/s ratio per round with its median, min and max, the load
average and the thread count. Disabled (the default), it runs 2 seeds x 2 steps
once, as a smoke test.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch

from ganbench.data.mog import grid_25
from ganbench.training import ensemble
from ganbench.training.build import build_model
from ganbench.training.loop import train

pytestmark = pytest.mark.slow  # a benchmark: --runslow (with --benchmark-enable to time)

#: The generator and discriminator of suites/pacgan-mog (PacGAN2: packing 2).
PACGAN_MLP = dict(
    latent_dim=2,
    hidden=400,
    depth=4,
    d_hidden=200,
    d_depth=3,
    g_batchnorm=True,
    g_bias=False,
    maxout_pieces=5,
    init="normal-0.02",
    lr=1e-4,
    beta1=0.8,
    updates="simultaneous",
    packing=2,
)
#: The GAN row of suites/veegan-mog.
VEEGAN_MLP = dict(
    latent_dim=255,
    hidden=128,
    depth=2,
    d_hidden=128,
    d_depth=1,
    d_activation="relu",
    init="xavier",
    lr=1e-3,
    beta1=0.5,
    updates="simultaneous",
)
MODELS = {"pacgan2": (PACGAN_MLP, 100), "veegan": (VEEGAN_MLP, 500)}


def _seconds(model: str, seeds: list[int], steps: int, together: bool) -> float:
    """Wall time to train every seed for `steps`."""
    params, batch = MODELS[model]
    data = grid_25(train_points=100_000)
    gans = []
    for seed in seeds:
        torch.manual_seed(seed)
        gans.append(build_model("mlp-gan", data, params))
    start = time.perf_counter()
    if together:
        train(
            ensemble.stack(gans),
            data,
            steps=steps,
            batch_size=batch,
            device=torch.device("cpu"),
            seed=seeds,
            log_points=1,
            label="ensemble",
        )
    else:
        for seed, gan in zip(seeds, gans, strict=True):
            train(
                gan,
                data,
                steps=steps,
                batch_size=batch,
                device=torch.device("cpu"),
                seed=seed,
                log_points=1,
                label=f"seed {seed}",
            )
    return time.perf_counter() - start


def interleaved_ratios(model: str, seeds: list[int], steps: int, rounds: int) -> list[float]:
    """Sequential time / ensemble time, one ratio per round, order alternating."""
    ratios = []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        times = {together: _seconds(model, seeds, steps, together) for together in order}
        ratios.append(times[False] / times[True])
    return ratios


@pytest.mark.e2e  # trains and times: the full tier
@pytest.mark.parametrize("model", list(MODELS))
def test_ensemble_vs_sequential(benchmark, model):
    seeds, steps, rounds = (list(range(10)), 30, 3) if not benchmark.disabled else ([0, 1], 2, 1)
    ratios = benchmark.pedantic(
        interleaved_ratios, args=(model, seeds, steps, rounds), rounds=1, iterations=1
    )
    summary = {
        "model": model,
        "seeds": len(seeds),
        "steps": steps,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratios": ratios,
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
    }
    benchmark.extra_info.update(summary)
    print(f"\nensemble vs sequential, CPU: {summary}")
    assert all(r > 0 for r in ratios)
