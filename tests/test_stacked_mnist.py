"""Stacked-MNIST: dataset construction and the mode count, against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.data.stacked_mnist import stacked_mnist
from ganbench.features.mnist_classifier import load_classifier
from ganbench.metrics.base import EvalContext
from ganbench.metrics.stacked_mnist import MODES, mode_statistics, triples
from ganbench.registry import METRICS
from ganbench.training.gan import GAN
from tests.helpers import Replay

#: Stacked test images classified per test: 3 x 3,000 digits through the classifier.
N = 3000


@pytest.fixture(scope="module")
def data():
    return stacked_mnist(train_size=2000, test_size=N)


@pytest.mark.e2e  # accuracy on thousands of real images: the full tier
def test_stacked_images_carry_their_labels(data):
    assert data.test.images.shape == (N, 3, 28, 28)
    predicted = triples(data.test.images, load_classifier())
    # Three channels each classified at >= 99%: at least 97% of triples right.
    assert (predicted == data.test.labels).double().mean() >= 0.97


@pytest.mark.e2e  # accuracy on thousands of real images: the full tier
def test_real_stacked_mnist_covers_the_expected_number_of_modes(data):
    measure = METRICS.get("stacked-mnist-modes").factory(samples=N)
    gan = GAN(Replay(data.test.images), nn.Identity(), latent_dim=1, lr_g=0, lr_d=0)
    result = measure(EvalContext(gan, data, None, seed=0))
    # N uniform draws over K = 1,000 modes: E[distinct] = K (1 - (1 - 1/K)^N) = 950.2 and
    # Var = K (K - 1) (1 - 2/K)^N + K (1 - 1/K)^N - K^2 (1 - 1/K)^2N = 6.3^2 at N = 3,000;
    # E[KL] ~ (K - 1) / (2 N) = 0.17 for a uniform multinomial.
    expected = MODES * (1 - (1 - 1 / MODES) ** N)
    variance = (
        MODES * (MODES - 1) * (1 - 2 / MODES) ** N
        + MODES * (1 - 1 / MODES) ** N
        - MODES**2 * (1 - 1 / MODES) ** (2 * N)
    )
    assert result["stacked_modes"].value >= expected - 4 * math.sqrt(variance)
    assert result["stacked_kl"].value < 3 * (MODES - 1) / (2 * N)


def test_a_collapsed_generator_has_one_mode_and_maximal_kl():
    modes, kl = mode_statistics(torch.full((500,), 123))
    assert modes == 1 and kl == pytest.approx(math.log(MODES))


def test_kid_and_prdc_through_the_metric_pipeline():
    from ganbench.data.images import ImageDataset, Split
    from ganbench.data.mnist import mnist

    source = mnist()
    data = ImageDataset(
        "mnist", source.train, Split(source.test.images[:1000], source.test.labels[:1000]), "test"
    )
    noise = torch.randint(
        0, 256, (1000, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )

    def measure(name, images, **params):
        gan = GAN(Replay(images), nn.Identity(), latent_dim=1, lr_g=0, lr_d=0)
        factory = METRICS.get(name).factory
        return factory(samples=1000, extractor="mnist-classifier", **params)(
            EvalContext(gan, data, None, seed=0)
        )

    # Two disjoint halves of the test split: one distribution, independent samples.
    kid_real = measure("kid", source.test.images[1000:2000], subsets=10, subset_size=500)["kid"]
    kid_noise = measure("kid", noise, subsets=10, subset_size=500)["kid"]
    assert abs(kid_real.value) < 0.01 * kid_noise.value
    assert kid_real.settings["subset_size"] == 500
    prdc = measure("prdc", source.test.images[1000:2000])
    coverage = 1 - math.prod((1000 - i) / (2000 - i) for i in range(1, 6))  # Naeem et al.
    assert prdc["density"].value == pytest.approx(1.0, abs=0.15)
    assert prdc["coverage"].value == pytest.approx(coverage, abs=0.03)
