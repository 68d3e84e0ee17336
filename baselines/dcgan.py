"""DCGAN (Radford, Metz & Chintala 2016) for 28x28 and 32x32 images, 1 or 3 channels.

As in the paper: strided (transposed) convolutions instead of pooling,
BatchNorm in both networks except the generator output and the discriminator
input, ReLU + tanh in G, LeakyReLU(0.2) in D, weights from N(0, 0.02),
Adam(2e-4, beta1 0.5). The first generator layer projects z to a 4x4 (32 px)
or 7x7 (28 px) map, which is then doubled until it reaches the image size.
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.registry import MODELS
from ganbench.training.gan import GAN


def base_and_doublings(size: int) -> tuple[int, int]:
    """32 -> (4, 3), 28 -> (7, 2), 64 -> (4, 4): smallest base of 4..7 that doubles to size."""
    doublings = 0
    while size % 2 == 0 and size > 7:
        size //= 2
        doublings += 1
    if not 4 <= size <= 7 or doublings == 0:
        raise GanbenchError(
            f"dcgan: image size must be 4..7 times a power of two (28, 32, 64, "
            f"...), got {size * 2**doublings}"
        )
    return size, doublings


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, width: int, channels: int, size: int) -> None:
        super().__init__()
        base, doublings = base_and_doublings(size)
        ch = width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, base, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """With `packing` m, judges m images at once, concatenated along channels (PacGAN):
    the batch holds m consecutive blocks and packed example j stacks image j of each."""

    def __init__(self, width: int, channels: int, size: int, packing: int = 1) -> None:
        super().__init__()
        self.packing = packing
        base, doublings = base_and_doublings(size)
        ch = width
        layers: list[nn.Module] = [
            nn.Conv2d(channels * packing, ch, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packing > 1:
            n, c, h, w = x.shape
            x = x.reshape(self.packing, n // self.packing, c, h, w).transpose(0, 1)
            x = x.reshape(n // self.packing, self.packing * c, h, w)
        return self.net(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@MODELS.register("dcgan", requires={"images"})
def dcgan(
    data: Dataset,
    *,
    latent_dim: int = 100,
    width: int = 64,
    lr: float = 2e-4,
    beta1: float = 0.5,
    packing: int = 1,
) -> GAN:
    """DCGAN generator and discriminator for 28/32 px images, Adam(2e-4, 0.5).

    `packing` m: PacDCGAN (the discriminator judges m images stacked along channels).
    """
    channels, height, width_px = data.sample_shape
    if height != width_px:
        raise GanbenchError(f"dcgan: images must be square, got {height}x{width_px}")
    generator = DCGANGenerator(latent_dim, width, channels, height)
    discriminator = DCGANDiscriminator(width, channels, height, packing)
    generator.apply(dcgan_init)
    discriminator.apply(dcgan_init)
    return GAN(
        generator,
        discriminator,
        latent_dim,
        lr,
        lr,
        (beta1, 0.999),
        packing=packing,
    )
