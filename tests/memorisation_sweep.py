"""Where near-copy detection stops (docs/diagnostics.md's table): `memorised_fraction` of
copies of 6,000 MNIST training digits, degraded in one way each (shifts, noise, blur,
contrast), against 1,000 held-out test digits, at quantile 0.01 and 0.04; and of 1,000
fresh test digits, which should be flagged at about the quantile.

    python -m tests.memorisation_sweep          # about 5 min on one CPU thread
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.data.mnist import mnist
from ganbench.features.mnist_classifier import MnistFeatures
from ganbench.metrics.memorisation import memorised_fraction, near_copy_distances, training_set
from tests.test_diagnostics import _affine, _noisy, _shifted

QUANTILES = (0.01, 0.04)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma)
    t = torch.arange(-radius, radius + 1).float()
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).view(1, 1, 2 * radius + 1, 2 * radius + 1)
    blurred = F.conv2d(F.pad(images.float(), (radius,) * 4, mode="replicate"), kernel)
    return blurred.round().clamp(0, 255).to(torch.uint8)


def box_blur(images: torch.Tensor, size: int) -> torch.Tensor:
    padded = F.pad(images.float(), (size // 2,) * 4, mode="replicate")
    return F.avg_pool2d(padded, size, stride=1).round().clamp(0, 255).to(torch.uint8)


def main() -> None:
    torch.set_num_threads(1)
    full = mnist()
    order = torch.randperm(len(full.test.images), generator=torch.Generator().manual_seed(0))
    test = full.test.images[order]  # both writer populations in each half, as the tests
    train_images, held_out, fresh = full.train.images[:6000], test[:1000], test[1000:2000]
    cases = {
        "exact": train_images,
        "shifted 1 px": _shifted(train_images, 1, 0),
        "shifted 2 px diagonally": _shifted(train_images, 2, 2),
        "shifted 3 px": _shifted(train_images, 3, 0),
        **{f"noise of std {s}": _noisy(train_images, s) for s in (10, 20, 30, 40, 50, 60)},
        "Gaussian blur sigma 0.7 px": gaussian_blur(train_images, 0.7),
        "Gaussian blur sigma 1 px": gaussian_blur(train_images, 1.0),
        "3x3 box blur": box_blur(train_images, 3),
        "contrast x0.6, brightness +40": _affine(train_images, 0.6, 40),
        "shifted 1 px with noise 25": _noisy(_shifted(train_images, 1, 0), 25),
        "fresh test digits": fresh,
    }
    extractor = MnistFeatures()
    train = training_set(train_images, extractor(train_images))
    reference = near_copy_distances(held_out, extractor(held_out), train)
    print(
        "| copies of training digits | flagged at quantile "
        + " / ".join(map(str, QUANTILES))
        + " |"
    )
    print("| --- | --- |")
    for name, images in cases.items():
        images = images[:1000]
        distances = near_copy_distances(images, extractor(images), train)
        flagged = [memorised_fraction(distances, reference, q)[0] for q in QUANTILES]
        print(f"| {name} | {' / '.join(f'{f:.3f}' for f in flagged)} |", flush=True)


if __name__ == "__main__":
    main()
