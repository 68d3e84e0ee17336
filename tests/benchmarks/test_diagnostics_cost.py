"""What watching the discriminator costs: training with the signals (the default: D(x),
D(G(z)) and gradient norms at every logged step) vs the same loop without them.

pytest tests/benchmarks/test_diagnostics_cost.py --benchmark-enable -s
trains the mog suite's MLP on ring-8 and the mnist-ci DCGAN both ways in interleaved
rounds (on, off, off, on, ...) and prints the off/on time ratio per round with its
median, min and max, the load average and the thread count. Disabled (the default),
it runs 2 steps of each once, as a smoke test.
"""

from __future__ import annotations

import os
import statistics
import time
from unittest import mock

import pytest
import torch

from ganbench.data.mnist import mnist
from ganbench.data.mog import ring_8
from ganbench.registry import build_model
from ganbench.training import loop

#: (model, parameters, dataset, batch size); steps are logged every steps / 100.
CASES = {
    "mlp-gan/ring-8": ("mlp-gan", {}, ring_8, 256),
    "dcgan/mnist": ("dcgan", {"width": 32}, mnist, 64),
}


def _seconds(case: str, steps: int, signals: bool) -> float:
    name, params, dataset, batch = CASES[case]
    data = dataset()
    torch.manual_seed(0)
    gan = build_model(name, data, params)
    original = loop._step

    def unobserved(*args, observe: bool = False, **kwargs):
        return original(*args, observe=False, **kwargs)

    with mock.patch.object(loop, "_step", original if signals else unobserved):
        start = time.perf_counter()
        loop.train(gan, data, steps=steps, batch_size=batch, device=torch.device("cpu"), seed=0)
        return time.perf_counter() - start


def interleaved_ratios(case: str, steps: int, rounds: int) -> list[float]:
    ratios = []
    for r in range(rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        times = {signals: _seconds(case, steps, signals) for signals in order}
        ratios.append(times[False] / times[True])
    return ratios


@pytest.mark.parametrize("case", list(CASES))
def test_signals_cost(benchmark, case):
    steps = {"mlp-gan/ring-8": 2000, "dcgan/mnist": 200}[case]
    steps, rounds = (steps, 5) if not benchmark.disabled else (2, 1)
    ratios = benchmark.pedantic(
        interleaved_ratios, args=(case, steps, rounds), rounds=1, iterations=1
    )
    summary = {
        "case": case,
        "steps": steps,
        "observed_steps": min(steps, 100),
        "off_over_on_median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "ratios": ratios,
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
    }
    benchmark.extra_info.update(summary)
    print(f"\nsignals off / on, CPU: {summary}")
    assert all(r > 0 for r in ratios)
