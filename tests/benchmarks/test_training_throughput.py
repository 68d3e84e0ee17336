"""DCGAN training throughput on MNIST: ganbench's loop vs the PyTorch-examples reference.

pytest tests/benchmarks --runslow --benchmark-enable --benchmark-json=throughput.json
records both in pytest-benchmark's JSON (images/s in extra_info), so
`pytest-benchmark compare` tracks them across commits; `ganbench bench` prints
the same comparison as a ratio table. Disabled (the default), each runs a few
steps once, as a smoke test.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.data.mnist import mnist
from ganbench.options import BENCH_VARIANTS
from ganbench.run.bench import ganbench_loop, reference_loop

pytestmark = pytest.mark.slow  # a benchmark: --runslow (with --benchmark-enable to time)

STEPS, WARMUP, BATCH = 10, 3, 64
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture(scope="module")
def data():
    return mnist()


@pytest.mark.e2e  # trains: the full tier
def test_reference_loop(benchmark, data):
    benchmark.group = f"dcgan-mnist-{DEVICE.type}"
    rate = benchmark.pedantic(
        reference_loop, args=(data, STEPS, WARMUP, BATCH, DEVICE, 0), rounds=1, iterations=1
    )
    benchmark.extra_info["images_per_second"] = rate
    assert rate > 0


@pytest.mark.e2e  # trains: the full tier
@pytest.mark.parametrize("variant", ["fp32", "channels_last"])
def test_ganbench_loop(benchmark, data, variant):
    benchmark.group = f"dcgan-mnist-{DEVICE.type}"
    rate = benchmark.pedantic(
        ganbench_loop,
        args=(data, STEPS, WARMUP, BATCH, DEVICE, BENCH_VARIANTS[variant]),
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info["images_per_second"] = rate
    assert rate > 0
