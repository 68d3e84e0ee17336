"""FID against closed forms and against pytorch-fid's implementation (an independent reference).

Tolerances: 1e-6 relative against pytorch-fid (both float64; the difference is
the square-root algorithm); 1e-9 absolute for closed forms computed exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.metrics.fid import GaussianStats, frechet_distance, gaussian_stats


def random_spd(d: int, seed: int, rank: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, rank or 2 * d, generator=g, dtype=torch.float64)
    return a @ a.T / a.shape[1]


def test_fid_of_identical_statistics_is_zero():
    s = GaussianStats(torch.zeros(64, dtype=torch.float64), random_spd(64, 0), 100)
    assert frechet_distance(s, s) == pytest.approx(0, abs=1e-9)


def test_fid_of_diagonal_gaussians_matches_the_closed_form():
    # Diagonal covariances commute: Tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    g = torch.Generator().manual_seed(1)
    a, b = (
        torch.rand(16, generator=g, dtype=torch.float64),
        torch.rand(16, generator=g, dtype=torch.float64),
    )
    mu1, mu2 = (
        torch.randn(16, generator=g, dtype=torch.float64),
        torch.zeros(16, dtype=torch.float64),
    )
    expected = float((mu1 - mu2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum())
    fid = frechet_distance(
        GaussianStats(mu1, torch.diag(a), 1), GaussianStats(mu2, torch.diag(b), 1)
    )
    assert fid == pytest.approx(expected, abs=1e-9)


def test_fid_of_scaled_covariance_matches_the_closed_form():
    # S2 = c^2 S1: Tr(S1 + S2 - 2 sqrt(S1 S2)) = (1 - c)^2 Tr S1.
    s1 = random_spd(32, 2)
    fid = frechet_distance(
        GaussianStats(torch.zeros(32), s1, 1), GaussianStats(torch.zeros(32), 9 * s1, 1)
    )
    assert fid == pytest.approx(4 * float(s1.trace()), rel=1e-9)


# pytorch-fid passes sqrtm(..., disp=False), deprecated in SciPy 1.17 and removed in 1.18.
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")
@pytest.mark.parametrize(("d", "rank"), [(64, None), (256, None), (256, 100)])
def test_fid_equals_pytorch_fid_reference(d, rank):
    reference = pytest.importorskip("pytorch_fid.fid_score").calculate_frechet_distance
    g = torch.Generator().manual_seed(d)
    mu1, mu2 = (
        torch.randn(d, generator=g, dtype=torch.float64),
        torch.randn(d, generator=g, dtype=torch.float64),
    )
    s1, s2 = random_spd(d, 3, rank), random_spd(d, 4, rank)  # rank < d: singular, as with N < 2048
    expected = reference(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy())
    ours = frechet_distance(GaussianStats(mu1, s1, 1), GaussianStats(mu2, s2, 1))
    assert ours == pytest.approx(expected, rel=1e-6)


def test_stats_are_float64_and_equal_numpy():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    s = gaussian_stats(x)
    assert s.mu.dtype == torch.float64 and s.n == 500
    np.testing.assert_allclose(
        s.sigma.numpy(), np.cov(x.double().numpy(), rowvar=False), rtol=1e-12
    )


def test_fid_of_samples_from_two_gaussians_approaches_the_formula():
    # 1-D: FID = (m1 - m2)^2 + (s1 - s2)^2; with 200k samples the estimate is within 0.01.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200_000, 1, generator=g, dtype=torch.float64) * 2 + 1
    y = torch.randn(200_000, 1, generator=g, dtype=torch.float64) * 0.5 - 1
    assert frechet_distance(gaussian_stats(x), gaussian_stats(y)) == pytest.approx(
        (1 - -1) ** 2 + (2 - 0.5) ** 2, abs=0.01 * (4 + 2.25)
    )
    assert math.isfinite(frechet_distance(gaussian_stats(x), gaussian_stats(y)))
