"""KID against torch-fidelity and its own unbiasedness; PRDC against closed forms.

Tolerances: 1e-9 relative against torch-fidelity (same float64 formula); the
mean of independent unbiased estimates is within 4 standard errors of 0; for
identical distributions E[density] = 1 and E[coverage] = 1 - prod_{i=1..k}
(N - i) / (M + N - i) (Naeem et al. 2020), checked to 0.05 and 0.015 with
N = M = 3,000.
"""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.metrics.kid import kid, mmd2_unbiased
from ganbench.metrics.prdc import prdc


def gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return (
        torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        + shift
    )


def test_mmd2_equals_torch_fidelity():
    reference = pytest.importorskip("torch_fidelity.metric_kid").kernel_mmd
    x, y = gaussian(300, 16, 0), gaussian(300, 16, 1, shift=0.3)  # its mmd2 needs m == n
    expected = reference(x.numpy(), y.numpy())
    assert mmd2_unbiased(x, y) == pytest.approx(float(expected), rel=1e-9)


def test_kid_is_unbiased_for_samples_from_one_distribution():
    values = torch.tensor(
        [mmd2_unbiased(gaussian(200, 8, 2 * i), gaussian(200, 8, 2 * i + 1)) for i in range(60)]
    )
    standard_error = values.std() / math.sqrt(len(values))
    assert abs(values.mean()) < 4 * standard_error
    shifted = mmd2_unbiased(gaussian(200, 8, 0), gaussian(200, 8, 1, shift=1.0))
    assert shifted > 100 * standard_error


def test_kid_subsets_are_capped_by_the_available_samples():
    mean, std = kid(gaussian(50, 4, 0), gaussian(40, 4, 1, shift=2.0), subsets=5, subset_size=1000)
    assert mean > 0 and std >= 0


def test_prdc_of_identical_distributions_matches_the_closed_forms():
    n = m = 3000
    k = 5
    r = prdc(gaussian(n, 4, 0), gaussian(m, 4, 1), k=k)
    coverage = 1 - math.prod((n - i) / (m + n - i) for i in range(1, k + 1))
    assert r.density == pytest.approx(1.0, abs=0.05)
    assert r.coverage == pytest.approx(coverage, abs=0.015)
    assert r.precision > 0.9 and r.recall > 0.9


def test_prdc_of_disjoint_distributions_is_zero():
    r = prdc(gaussian(500, 4, 0), gaussian(500, 4, 1, shift=100.0))
    assert (r.precision, r.recall, r.density, r.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_prdc_of_a_collapsed_generator_is_precise_but_covers_little():
    real = gaussian(2000, 2, 0)
    collapsed = real[:50].repeat(40, 1) + 1e-3 * gaussian(2000, 2, 1)  # 50 real points, again
    r = prdc(real, collapsed)
    # Identical distributions give coverage ~0.97 (above); 50 repeated points reach few balls.
    assert r.precision > 0.95 and r.coverage < 0.25 and r.recall < 0.1
