"""Inversion of real images (metrics/inversion.py) and the discriminator probe
(metrics/d_probe.py), each against a constructed case whose answer is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.data.images import to_model_space
from ganbench.data.mnist import mnist
from ganbench.errors import GanbenchError
from ganbench.evaluate import evaluate_generator
from ganbench.metrics.base import EvalContext
from ganbench.metrics.d_probe import (
    d_probe,
    discriminator_features,
    linear_probe,
    probe_layer,
    randomly_initialised,
)
from ganbench.metrics.inversion import invert, pixel_loss, pixel_mse, reconstruct
from ganbench.registry import DATASETS
from ganbench.training.build import build_model
from ganbench.training.gan import GAN
from tests.helpers import image_data


class LinearImages(nn.Module):
    """z (N, 16) -> W z as a 1x4x4 image: invertible, so every image has one latent."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.weight.T).view(-1, 1, 4, 4)


def test_an_invertible_linear_generator_gives_back_its_latents():
    """Targets made from known latents; from random starts the search must land on them
    (the loss is a convex quadratic with one minimum): within 1e-3 per coordinate."""
    g = torch.Generator().manual_seed(0)
    weight, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    generator = LinearImages(weight * 0.3)
    truth = torch.randn(32, 16, generator=g)
    with torch.no_grad():
        targets = generator(truth)
    found = invert(
        generator,
        32,
        torch.randn(32 * 3, 16, generator=g),
        pixel_loss(targets),
        steps=400,
        select_steps=20,
        lr=0.05,
    )
    assert (found.latents - truth).abs().max() < 1e-3
    assert float(pixel_mse(found.images, targets).max()) < 1e-7
    assert generator.weight.requires_grad and generator.training  # left as it was


class Decoder(nn.Module):
    """A linear "generator" spanning the principal components of some digits: it can make
    only what lies in their span (a generator that dropped the other classes)."""

    def __init__(self, images: torch.Tensor, components: int) -> None:
        super().__init__()
        x = to_model_space(images).flatten(1)
        self.register_buffer("mean", x.mean(0))
        _, s, v = torch.linalg.svd(x - x.mean(0), full_matrices=False)
        self.register_buffer("basis", v[:components] * s[:components, None] / len(x) ** 0.5)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.mean + z @ self.basis).view(-1, 1, 28, 28)


@pytest.fixture(scope="module")
def digits():
    return mnist()


def test_classes_a_generator_dropped_reconstruct_worse(digits):
    """A decoder spanning 10 principal components of the digits 0-4 only. Its best
    reconstruction of an image is the least-squares projection onto its span (closed
    form): the search reaches it (mean error within 2 %), and the digits 5-9 it cannot
    make reconstruct with more error than those it can (closed form: 1.40x on these
    400 test digits; asserted > 1.25x)."""
    train, labels = digits.train.images[:6000], digits.train.labels[:6000]
    decoder = Decoder(train[labels < 5], 10)
    gan = GAN(decoder, nn.Identity(), latent_dim=10, lr_g=0, lr_d=0)
    test, test_labels = digits.test.images[:400], digits.test.labels[:400]
    found = reconstruct(gan, test, 0, {"starts": 2, "steps": 150, "select_steps": 10, "lr": 0.1})
    residual = to_model_space(test).flatten(1) - decoder.mean
    basis, _ = torch.linalg.qr(decoder.basis.T)
    projected = residual - (residual @ basis) @ basis.T
    closed_form = (projected / 2).square().mean(1)
    assert float(found.loss.mean()) == pytest.approx(float(closed_form.mean()), rel=0.02)
    dropped = found.loss[test_labels >= 5].mean()
    assert dropped > 1.25 * found.loss[test_labels < 5].mean()


def test_the_metric_keeps_the_class_of_a_generator_that_spans_the_digits(digits):
    """A decoder with 300 principal components of all digits reconstructs held-out digits
    nearly exactly: the classifier keeps at least 95 % of their classes; one with a
    single component (a blurred mean digit) keeps far fewer (at most 40 %)."""
    train = digits.train.images[:6000]
    out = {}
    for components in (300, 1):
        generator = Decoder(train, components)
        out[components] = evaluate_generator(
            generator,
            "mnist",
            ["inversion"],
            latent_dim=components,
            metric_params={"inversion": {"samples": 64, "starts": 2, "steps": 60}},
        )
    assert out[300]["inversion_class_kept"].value >= 0.95
    assert out[1]["inversion_class_kept"].value <= 0.4
    assert out[300]["inversion_mse"].value < out[1]["inversion_mse"].value
    assert out[300]["inversion_mse"].settings["feature_weight"] == 0.0


# --- the discriminator probe ---------------------------------------------------------------


def _clusters(n: int, classes: int, dim: int, spread: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99)) * 10
    labels = torch.arange(n) % classes
    return centres[labels] + spread * torch.randn(n, dim, generator=g), labels


def test_the_probe_separates_linearly_separable_features_exactly():
    """Clusters 10 apart with spread 0.1 are linearly separable: accuracy 1 (closed form)."""
    train, train_labels = _clusters(500, 10, 32, 0.1, 0)
    test, test_labels = _clusters(1000, 10, 32, 0.1, 1)
    assert linear_probe(train.double(), train_labels, test.double(), test_labels) == 1.0


def test_the_probe_on_features_that_carry_no_label_is_at_chance():
    """Features independent of the labels: 10 equal classes give accuracy 0.1 in
    expectation; 3,000 test points, so within 4 binomial standard errors (0.022)."""
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(1000, 64, generator=g), torch.randn(3000, 64, generator=g)
    accuracy = linear_probe(
        train.double(), torch.arange(1000) % 10, test.double(), torch.arange(3000) % 10
    )
    assert abs(accuracy - 0.1) < 4 * (0.1 * 0.9 / 3000) ** 0.5


def test_the_probe_reads_the_discriminators_penultimate_layer(digits):
    """DCGAN's discriminator (width 32 on 28x28): the last conv's input is 64x7x7, pooled
    to 64x4x4; a packed one (PacDCGAN2) sees the image twice; a named layer is read at
    its output; a layer that is not there is named in the error."""
    data = DATASETS.get("mnist").factory()
    torch.manual_seed(0)
    gan = build_model("dcgan", data, {"width": 32})
    images = digits.test.images[:8]
    features = discriminator_features(gan.discriminator, images)
    assert features.shape == (8, 64 * 4 * 4)
    packed = build_model("dcgan", data, {"width": 32, "packing": 2})
    assert discriminator_features(packed.discriminator, images, 2).shape == (8, 64 * 4 * 4)
    gan.discriminator.probe_layer = "net.1"  # the first LeakyReLU: 32 x 14 x 14, pooled
    assert discriminator_features(gan.discriminator, images).shape == (8, 32 * 4 * 4)
    gan.discriminator.probe_layer = "net.99"
    with pytest.raises(ValueError, match=r"net\.99"):
        probe_layer(gan.discriminator)
    fresh = randomly_initialised(gan.discriminator)
    assert not torch.equal(fresh.net[0].weight, gan.discriminator.net[0].weight)


def test_eval_refuses_the_probe_without_a_discriminator():
    with pytest.raises(GanbenchError, match="probes a trained discriminator"):
        evaluate_generator(nn.Linear(4, 2), "ring-8", ["d-probe"], latent_dim=4)


def test_d_probe_refuses_more_labels_than_the_training_split_holds():
    """issue 34 #10: labels = [100000] on MNIST recorded d_probe_accuracy_100000 for a probe
    trained on 60,000 labels."""
    data = image_data(1, 28)
    gan = GAN(nn.Identity(), nn.Identity(), latent_dim=1, lr_g=0, lr_d=0)
    with pytest.raises(
        ValueError, match="d-probe labels = 33: squares-1x28's training split has 32"
    ):
        d_probe(labels=(10, 33))(EvalContext(gan, data, None, seed=0))


@pytest.mark.parametrize(("test_images", "walks"), [(1, 0), (5, 2), (16, 4)])
def test_inversion_pictures_of_a_test_split_smaller_than_the_picture(tmp_path, test_images, walks):
    """issue 34 #6: `ganbench report` crashed (expected input[40, 50, 1, 1] to have 100
    channels) on a run whose test split held fewer than 8 images."""
    from ganbench.data.images import ImageDataset, Split
    from ganbench.viz.inversion import STEPS, save_inversion_pictures

    g = torch.Generator().manual_seed(0)
    weight, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    images = torch.randint(0, 256, (test_images, 1, 4, 4), dtype=torch.uint8, generator=g)
    split = Split(images, torch.zeros(test_images, dtype=torch.long))
    data = ImageDataset("tiny-4x4", split, split, "test")
    gan = GAN(LinearImages(weight), nn.Identity(), latent_dim=16, lr_g=0, lr_d=0)
    settings = {"starts": 2, "steps": 3, "select_steps": 1, "lr": 0.05}
    found = save_inversion_pictures(gan, data, 0, settings, tmp_path, "tiny")
    assert found["reconstructions"].is_file()
    if walks:
        from PIL import Image

        height = Image.open(found["walk"]).height
        width = Image.open(found["walk"]).width
        assert round(height / width * (STEPS + 2)) == walks  # rows of STEPS + 2 squares
    else:
        assert "walk" not in found
