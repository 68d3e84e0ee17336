"""Fréchet distance on 2048-d statistics: ganbench vs pytorch-fid (scipy.linalg.sqrtm).

Run with timings: pytest tests/benchmarks --runslow --benchmark-enable --benchmark-group-by=group
pytest-benchmark prints both in one table, with the ratio in parentheses.
By default (benchmarks disabled) each runs once and the values are compared.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.metrics.fid import GaussianStats, frechet_distance

pytestmark = pytest.mark.slow  # a benchmark: --runslow (with --benchmark-enable to time)

D = 2048


@pytest.fixture(scope="module")
def stats() -> tuple[GaussianStats, GaussianStats]:
    g = torch.Generator().manual_seed(0)
    out = []
    for shift in (0.0, 0.1):
        # Features like Inception pool3: non-negative, correlated, 5,000 samples.
        x = torch.relu(
            torch.randn(5000, D, generator=g, dtype=torch.float64)
            @ (torch.randn(D, D, generator=g, dtype=torch.float64) / D**0.5)
            + shift
        )
        out.append(GaussianStats(x.mean(0), torch.cov(x.T), x.shape[0]))
    return out[0], out[1]


@pytest.mark.e2e
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")
def test_pytorch_fid_sqrtm(benchmark, stats):
    reference = pytest.importorskip("pytorch_fid.fid_score").calculate_frechet_distance
    a, b = stats
    args = (a.mu.numpy(), a.sigma.numpy(), b.mu.numpy(), b.sigma.numpy())
    benchmark.group = "frechet-2048"
    value = benchmark.pedantic(reference, args=args, rounds=3, iterations=1)
    assert value == pytest.approx(frechet_distance(a, b), rel=1e-6)


@pytest.mark.e2e  # a 2048-d benchmark: the full tier
def test_ganbench_eigh(benchmark, stats):
    benchmark.group = "frechet-2048"
    value = benchmark.pedantic(frechet_distance, args=stats, rounds=3, iterations=1)
    assert value > 0
