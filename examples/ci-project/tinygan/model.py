"""The project's GAN: a small DCGAN-style generator and discriminator for 28x28 digits.

ganbench calls `make(data, **suite parameters)` and trains what it returns; see
the factory contract in ganbench's README ("Your own GAN in a suite").
"""

from __future__ import annotations

from torch import nn

from ganbench.training import GAN


def generator(latent_dim: int, width: int, channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, 2 * width, 7, 1, 0, bias=False),  # 1 -> 7
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # 7 -> 14
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False),  # 14 -> 28
        nn.Tanh(),
    )


def discriminator(width: int, channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1, bias=False),  # 28 -> 14
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),  # 14 -> 7
        nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 7, 1, 0, bias=False),  # 7 -> 1
        nn.Flatten(0),  # one logit per image
    )


def init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def make(data, *, latent_dim: int = 64, width: int = 32, lr: float = 2e-4) -> GAN:
    """The project's GAN for `data` (28x28 images), Adam(lr, beta1 0.5)."""
    channels, height, width_px = data.sample_shape
    if (height, width_px) != (28, 28):
        raise ValueError(f"tinygan needs 28x28 images, got {height}x{width_px}")
    g, d = generator(latent_dim, width, channels), discriminator(width, channels)
    g.apply(init_weights)
    d.apply(init_weights)
    return GAN(g, d, latent_dim, lr_g=lr, lr_d=lr, betas=(0.5, 0.999))
