"""Mode coverage against closed forms on hand-built samplers.

Tolerances: sample fractions are checked to within 5 binomial standard errors
(a false failure about once in 1.7 million runs); KL of an empirical histogram
of N samples over K equal modes has expectation about (K-1)/(2N), and the
bound used is 10 times that.
"""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.data.mog import grid_25, ring_8
from ganbench.metrics.mode_coverage import mode_coverage


def binomial_tolerance(p: float, n: int) -> float:
    return 5 * math.sqrt(p * (1 - p) / n)


def test_ring_has_eight_distinct_equally_spaced_means():
    # Guards against linspace(0, 2*pi, 8), which puts mode 8 on top of mode 1.
    means = ring_8().means.double()
    assert means.norm(dim=1) == pytest.approx([2.0] * 8, abs=1e-6)
    distances = torch.cdist(means, means) + torch.eye(8) * 100
    chord = 2 * 2 * math.sin(math.pi / 8)
    assert distances.min(dim=1).values == pytest.approx([chord] * 8, abs=1e-6)


def test_grid_means_are_the_5x5_lattice_with_spacing_2():
    means = {tuple(m) for m in grid_25().means.round().int().tolist()}
    assert means == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("k", range(9))
def test_samples_exactly_on_k_modes_cover_k_modes(k):
    data = ring_8()
    on_modes = data.means[:k].repeat(50, 1)
    far_away = torch.full((10, 2), 50.0)  # never high quality, never covers
    result = mode_coverage(torch.cat([on_modes, far_away]), data.means, data.std)
    assert result.modes_covered == k
    assert result.high_quality_fraction == pytest.approx(50 * k / (50 * k + 10))
    # k equally used modes of 8: KL(histogram || uniform) = log(8 / k).
    assert result.kl_to_uniform == (pytest.approx(math.log(8 / k)) if k else None)


def test_min_samples_per_mode_is_applied():
    data = ring_8()
    samples = torch.cat([data.means[0].repeat(5, 1), data.means[1].repeat(2, 1)])
    assert mode_coverage(samples, data.means, data.std, min_samples_per_mode=3).modes_covered == 1
    assert mode_coverage(samples, data.means, data.std, min_samples_per_mode=1).modes_covered == 2


def test_kl_of_an_uneven_histogram_matches_the_formula():
    data = ring_8()
    samples = torch.cat(
        [data.means[0].repeat(6, 1), data.means[1].repeat(3, 1), data.means[2].repeat(1, 1)]
    )
    p = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    expected = float((p * torch.log(p * 8)).sum())
    assert mode_coverage(samples, data.means, data.std).kl_to_uniform == pytest.approx(expected)


@pytest.mark.parametrize("factory", [ring_8, grid_25])
def test_perfect_sampler_is_fully_covered_with_near_zero_kl(factory):
    data = factory()
    n = 100_000
    result = mode_coverage(data.real_samples(n, seed=0), data.means, data.std)
    assert result.modes_covered == data.num_modes
    # Radius of a 2-D isotropic Gaussian: P(r < 3 sigma) = 1 - exp(-9/2).
    p_within = 1 - math.exp(-4.5)
    assert result.high_quality_fraction == pytest.approx(
        p_within, abs=binomial_tolerance(p_within, n)
    )
    assert 0 <= result.kl_to_uniform < 10 * (data.num_modes - 1) / (2 * n)


def test_uniform_noise_over_the_plane_is_rarely_high_quality():
    data = ring_8()
    n = 200_000
    noise = (torch.rand(n, 2, generator=torch.Generator().manual_seed(0)) - 0.5) * 6
    result = mode_coverage(noise, data.means, data.std)
    # Area of 8 circles of radius 3 std over the 6x6 square.
    p_hq = 8 * math.pi * (3 * data.std) ** 2 / 36
    assert result.high_quality_fraction == pytest.approx(p_hq, abs=binomial_tolerance(p_hq, n))
    assert result.high_quality_fraction < 0.01
