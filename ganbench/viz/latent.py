"""Walks through latent space: linear and spherical interpolation (ganbench.training.interpolation),
shown side by side to make the difference visible, and a walk along one axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ganbench.training.gan import GAN
from ganbench.training.interpolation import lerp, slerp
from ganbench.viz.files import write_atomically
from ganbench.viz.grid import save_grid


def paths(gan: GAN, seed: int, pairs: int = 4, steps: int = 10) -> dict[str, torch.Tensor]:
    """Latents (rows, steps, latent_dim) for linear, spherical and one-axis walks."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(pairs, gan.latent_dim, generator=g)
    b = torch.randn(pairs, gan.latent_dim, generator=g)
    t = torch.linspace(0, 1, steps)
    walk = a[:, None].repeat(1, steps, 1)
    walk[:, :, 0] = torch.linspace(-3, 3, steps)  # sweep the first latent coordinate
    return {
        "linear": lerp(a[:, None], b[:, None], t[None, :, None]),
        "spherical": slerp(a[:, None], b[:, None], t[None, :, None]),
        "walk": walk,
    }


@torch.no_grad()
def generate(gan: GAN, latents: torch.Tensor) -> torch.Tensor:
    gan.generator.eval()
    flat = latents.reshape(-1, latents.shape[-1]).to(gan.device)
    return gan.generator(flat).float().cpu()


def save_image_strips(gan: GAN, seed: int, folder: Path, stem: str) -> dict[str, Path]:
    """One grid per kind of path: a row per path, a column per step."""
    out = {}
    for kind, latents in paths(gan, seed).items():
        out[kind] = save_grid(
            generate(gan, latents), folder / f"{stem}_{kind}.png", nrow=latents.shape[1]
        )
    return out


def save_point_paths(
    gan: GAN, seed: int, means: torch.Tensor, folder: Path, stem: str
) -> dict[str, Path]:
    """For 2-D data: the curve each latent path traces in data space, over the modes."""
    out = {}
    for kind, latents in paths(gan, seed, pairs=6, steps=60).items():
        points = generate(gan, latents).view(latents.shape[0], latents.shape[1], 2)
        fig, ax = plt.subplots(figsize=(4, 4), dpi=110)
        ax.scatter(means[:, 0], means[:, 1], c="tab:red", s=12, label="modes")
        for path in points:
            ax.plot(path[:, 0], path[:, 1], lw=1, marker=".", ms=2)
        ax.set(aspect="equal", title=f"{kind} latent paths")
        fig.tight_layout()
        out[kind] = write_atomically(folder / f"{stem}_{kind}.png", fig.savefig)
        plt.close(fig)
    return out
