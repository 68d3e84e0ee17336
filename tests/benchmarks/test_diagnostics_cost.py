"""What watching the discriminator costs: training with the signals (the default: D(x),
D(G(z)) and gradient norms at the 100 logged steps) vs the same loop without them, and
with them at every step (the cost of one observed step, which the default pays 100 times).

pytest tests/benchmarks/test_diagnostics_cost.py --runslow --benchmark-enable -s
trains the mog suite's MLP on ring-8 and the mnist-ci DCGAN the three ways in
interleaved rounds (the order rotating) and prints, per variant, the ratio of its
training samples/s (the loop's own timed window) to the run without signals in the
same round: median, min and max, with the load average and the thread count.
Disabled (the default), it runs 2 steps of each once, as a smoke test.
"""

from __future__ import annotations

import os
import statistics
from unittest import mock

import pytest
import torch

from ganbench.data.mnist import mnist
from ganbench.data.mog import ring_8
from ganbench.training import loop
from ganbench.training.build import build_model

pytestmark = pytest.mark.slow  # a benchmark: --runslow (with --benchmark-enable to time)

#: (model, parameters, dataset, batch size); steps are logged every steps / 100.
CASES = {
    "mlp-gan/ring-8": ("mlp-gan", {}, ring_8, 256),
    "dcgan/mnist": ("dcgan", {"width": 32}, mnist, 64),
}


#: When _step observes: never, at the logged steps (the default), or at every step.
VARIANTS = {
    "off": lambda logged: False,
    "logged": lambda logged: logged,
    "every step": lambda logged: True,
}


def _samples_per_second(case: str, steps: int, variant: str) -> float:
    name, params, dataset, batch = CASES[case]
    data = dataset()
    torch.manual_seed(0)
    gan = build_model(name, data, params)
    original, when = loop._step, VARIANTS[variant]

    def step(*args, observe: bool = False, **kwargs):
        return original(*args, observe=when(observe), **kwargs)

    with mock.patch.object(loop, "_step", step):
        record = loop.train(
            gan, data, steps=steps, batch_size=batch, device=torch.device("cpu"), seed=0
        )
    return record.samples_per_second


def interleaved_ratios(case: str, steps: int, rounds: int) -> dict[str, list[float]]:
    """Per variant, its samples/s over the unobserved loop's in the same round."""
    names = list(VARIANTS)
    ratios: dict[str, list[float]] = {n: [] for n in names[1:]}
    for r in range(rounds):
        order = names[r % 3 :] + names[: r % 3]
        speed = {n: _samples_per_second(case, steps, n) for n in order}
        for n in ratios:
            ratios[n].append(speed[n] / speed["off"])
    return ratios


@pytest.mark.e2e  # trains and times: the full tier
@pytest.mark.parametrize("case", list(CASES))
def test_signals_cost(benchmark, case):
    steps = {"mlp-gan/ring-8": 2000, "dcgan/mnist": 300}[case]
    steps, rounds = (steps, 4) if not benchmark.disabled else (2, 1)
    ratios = benchmark.pedantic(
        interleaved_ratios, args=(case, steps, rounds), rounds=1, iterations=1
    )
    summary = {
        "case": case,
        "steps": steps,
        **{
            f"{variant} / off": {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
            for variant, values in ratios.items()
        },
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
    }
    benchmark.extra_info.update(summary)
    print(f"\nsamples/s with signals / without, CPU: {summary}")
    assert all(r > 0 for values in ratios.values() for r in values)
