"""Stacked-MNIST: three random MNIST digits as the R, G and B channels; 1,000 modes.

Metz, Poole, Pfau & Sohl-Dickstein 2017 (Unrolled GANs) and Srivastava et al.
2017 (VEEGAN); the version used by PacGAN (Lin et al. 2018): each image
stacks three MNIST digits drawn independently and uniformly, so each of the
10^3 digit triples is a mode of equal mass. Built from the offline MNIST with
a fixed seed, 28x28 like its source.
"""

from __future__ import annotations

import torch

from ganbench.data.images import ImageDataset, Split
from ganbench.data.mnist import mnist
from ganbench.registry import DATASETS


def stack(split: Split, n: int, seed: int) -> Split:
    """n images, each three digits of `split` picked uniformly at random, as channels."""
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(0, split.images.shape[0], (n, 3), generator=g)
    images = split.images[index, 0]  # (n, 3, 28, 28)
    digits = split.labels[index]
    return Split(images, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])


@DATASETS.register("stacked-mnist", capabilities={"images", "stacked-digits", "classes"})
def stacked_mnist(*, train_size: int = 60000, test_size: int = 26000) -> ImageDataset:
    """Three MNIST digits stacked as RGB (1,000 equally likely modes), 28x28."""
    source = mnist()
    return ImageDataset(
        "stacked-mnist",
        stack(source.train, train_size, seed=0),
        stack(source.test, test_size, seed=1),
        f"stacked from {source.source}",
    )
