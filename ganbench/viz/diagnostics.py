"""Pictures that look inside a trained digit generator, in the MNIST classifier's space.

- Nearest neighbours: generated samples beside their nearest training images as near
  copies (memorisation's matching); a generator that copies shows its copies here.
- PCA of real and generated features (and t-SNE where scikit-learn is installed),
  coloured by the classifier's predicted digit: missing or merged classes show as
  missing or merged clusters.
- Latent arithmetic: the mean latent of three samples classified as each digit,
  generated, and sums such as mean(a) - mean(b) + mean(c) (Radford et al. 2016,
  "Unsupervised Representation Learning with DCGANs", section 6.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ganbench.data.images import ImageDataset, to_model_space, to_uint8
from ganbench.features.base import embed
from ganbench.metrics.features import extractor_per_device, split_features
from ganbench.metrics.memorisation import near_copy_neighbours, training_set
from ganbench.training.gan import GAN
from ganbench.viz.files import write_atomically
from ganbench.viz.grid import save_grid

SAMPLES = 2000
NEIGHBOURS = 6
ROWS = 8
#: Samples averaged per digit (Radford et al. average three exemplars per concept).
EXEMPLARS = 3
#: (a, b, c): the digits of mean(a) - mean(b) + mean(c).
ARITHMETIC = ((7, 1, 0), (9, 4, 3), (8, 3, 2))


@dataclass
class Embedded:
    latents: torch.Tensor
    images: torch.Tensor  # uint8
    features: torch.Tensor
    classes: torch.Tensor


def _embed_generated(gan: GAN, seed: int, extractor, batch_size: int = 500) -> Embedded:
    rng = torch.Generator(device=gan.device).manual_seed(seed)
    latents = gan.latents(SAMPLES, rng)
    generator = gan.ema_generator or gan.generator
    generator.eval()
    with torch.no_grad():
        images = to_uint8(
            torch.cat(
                [generator(latents[i : i + batch_size]) for i in range(0, SAMPLES, batch_size)]
            )
        )
    e = embed(extractor, images, batch_size, gan.device, keep_on_device=True)
    return Embedded(latents, images, e.features, e.logits.argmax(1))


def save_nearest_neighbours(
    generated: Embedded, data: ImageDataset, train_features: torch.Tensor, path: Path
) -> Path:
    """Each row: a generated sample, then its NEIGHBOURS nearest training images as near
    copies (the memorisation metric's matching: shifts, blur, contrast do not count)."""
    rows = generated.images[:ROWS]
    device = train_features.device
    train = training_set(data.train.images.to(device), train_features)
    _, indices = near_copy_neighbours(rows.to(device), generated.features[:ROWS], train, NEIGHBOURS)
    neighbours = indices.cpu()
    grid = torch.cat(
        [torch.cat([rows[i : i + 1].cpu(), data.train.images[neighbours[i]]]) for i in range(ROWS)]
    )
    return save_grid(to_model_space(grid), path, nrow=NEIGHBOURS + 1)


def _projections(
    real: torch.Tensor, fake: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """PCA fitted on the real features; t-SNE of both together where scikit-learn is."""
    mean = real.mean(0)
    _, _, v = torch.linalg.svd(real - mean, full_matrices=False)
    out = {"PCA": ((real - mean) @ v[:2].T, (fake - mean) @ v[:2].T)}
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        return out
    both = TSNE(2, init="pca", random_state=0).fit_transform(torch.cat([real, fake]).numpy())
    out["t-SNE"] = (torch.from_numpy(both[: len(real)]), torch.from_numpy(both[len(real) :]))
    return out


def save_feature_map(
    real_features: torch.Tensor,
    real_classes: torch.Tensor,
    generated: Embedded,
    path: Path,
) -> Path:
    """Real and generated features in 2-D, coloured by the predicted digit."""
    projections = _projections(real_features.cpu(), generated.features.cpu())
    fig, axes = plt.subplots(
        len(projections),
        2,
        figsize=(8, 4 * len(projections)),
        dpi=100,
        squeeze=False,
        sharex="row",
        sharey="row",
    )
    for row, (method, (real, fake)) in zip(axes, projections.items(), strict=True):
        for ax, points, classes, who in (
            (row[0], real, real_classes.cpu(), "real (test)"),
            (row[1], fake, generated.classes.cpu(), "generated"),
        ):
            scatter = ax.scatter(
                points[:, 0], points[:, 1], c=classes, cmap="tab10", vmin=-0.5, vmax=9.5, s=3
            )
            ax.set(title=f"{method}: {who}", xticks=[], yticks=[])
        fig.colorbar(scatter, ax=list(row), ticks=range(10), label="predicted digit")
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path


def save_latent_arithmetic(gan: GAN, generated: Embedded, path: Path) -> Path:
    """Row 1: G(mean latent of EXEMPLARS samples of each digit 0-9). Then per (a, b, c):
    G(mean a), G(mean b), G(mean c), G(mean a - mean b + mean c); a digit with fewer
    samples is a black tile. Few exemplars, as the paper: the mean of hundreds of
    Gaussian latents shrinks towards the origin, where every digit looks alike."""
    means = torch.stack(
        [
            generated.latents[generated.classes == d][:EXEMPLARS].mean(0)
            if (generated.classes == d).sum() >= EXEMPLARS
            else torch.full_like(generated.latents[0], float("nan"))
            for d in range(10)
        ]
    )
    rows = [means]
    for a, b, c in ARITHMETIC:
        rows.append(torch.stack([means[a], means[b], means[c], means[a] - means[b] + means[c]]))
    generator = gan.ema_generator or gan.generator
    generator.eval()
    with torch.no_grad():
        strips = []
        for latents in rows:
            images = generator(torch.nan_to_num(latents, nan=0.0))
            images[latents.isnan().any(1)] = -1  # no such digit: a black tile
            strips.append(
                torch.cat([images, images.new_full((10 - len(images), *images.shape[1:]), -1)])
            )
    return save_grid(torch.cat(strips).float().cpu(), path, nrow=10)


def save_digit_diagnostics(
    gan: GAN, data: ImageDataset, seed: int, folder: Path, stem: str
) -> dict[str, Path]:
    """All three pictures for one trained generator (`seed` fixes its samples)."""
    device = gan.device
    extractor = extractor_per_device("mnist-classifier")(device)
    train = split_features(data, "train", None, extractor, 1000, device)
    real_images = data.test.images[:SAMPLES]
    real = embed(extractor, real_images, 500, device, keep_on_device=True)
    generated = _embed_generated(gan, seed, extractor)
    return {
        "nearest": save_nearest_neighbours(generated, data, train, folder / f"{stem}_nearest.png"),
        "features": save_feature_map(
            real.features, real.logits.argmax(1), generated, folder / f"{stem}_features.png"
        ),
        "arithmetic": save_latent_arithmetic(gan, generated, folder / f"{stem}_arithmetic.png"),
    }
