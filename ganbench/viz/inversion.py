"""Pictures of the inversion metric (metrics/inversion.py): held-out images beside their
reconstructions, and a walk between the latents found for two real images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganbench.data.images import ImageDataset, to_model_space
from ganbench.metrics.features import extractor_per_device
from ganbench.metrics.inversion import INVERSION_MSE, classified, reconstruct
from ganbench.registry import classifier_of
from ganbench.training.gan import GAN
from ganbench.training.interpolation import lerp
from ganbench.viz.grid import save_grid

#: Images reconstructed for the pictures: 2 rows of originals and reconstructions.
SHOWN = 16
#: Pairs of reconstructed images walked between, and the steps of each walk.
PAIRS, STEPS = 4, 10


def save_inversion_pictures(
    gan: GAN, data: ImageDataset, seed: int, settings: dict[str, Any], folder: Path, stem: str
) -> dict[str, Path]:
    """The first SHOWN test images inverted with the metric's recorded `settings`."""
    params = {k: settings[k] for k in ("starts", "steps", "select_steps", "lr")}
    images = data.test.images[:SHOWN]
    classify = None
    if settings.get("feature_weight") and classified(data):
        classify = extractor_per_device(classifier_of(data))(gan.device).model
    found = reconstruct(gan, images, seed, params, classify, settings.get("feature_weight", 0.0))
    originals = to_model_space(images).float()
    reconstructions = found.images.float().cpu()
    half = (len(images) + 1) // 2
    pairs = torch.cat(
        [originals[:half], reconstructions[:half], originals[half:], reconstructions[half:]]
    )
    pictures = {"reconstructions": save_grid(pairs, folder / f"{stem}_inversion.png", nrow=half)}
    walks = min(PAIRS, len(images) // 2)  # a test split of fewer than 8 images walks less
    if walks:
        pictures["walk"] = save_grid(
            walk(gan, found.latents, walks, originals),
            folder / f"{stem}_inversion_walk.png",
            nrow=STEPS + 2,
        )
    return pictures


def walk(gan: GAN, latents: torch.Tensor, walks: int, originals: torch.Tensor) -> torch.Tensor:
    """Rows of STEPS images between the latents found for images 2i and 2i + 1, each row
    between the two originals."""
    t = torch.linspace(0, 1, STEPS)[None, :, None]
    a, b = latents[0 : 2 * walks : 2, None], latents[1 : 2 * walks : 2, None]
    generator = gan.ema_generator or gan.generator
    generator.eval()
    with torch.no_grad():
        walked = generator(lerp(a, b, t.to(a.device)).reshape(walks * STEPS, -1)).float().cpu()
    walked = walked.view(walks, STEPS, *walked.shape[1:])
    return torch.cat(
        [
            torch.cat([originals[2 * i : 2 * i + 1], walked[i], originals[2 * i + 1 : 2 * i + 2]])
            for i in range(walks)
        ]
    )


def report_pictures(ctx) -> list[tuple[Path, str]]:
    """The inversion metric's report pictures (metrics/extras.py), drawn from the first
    seed's generator with the settings the metric recorded."""
    inverted = ctx.measured.get(INVERSION_MSE)
    if ctx.gan is None or inverted is None or len(ctx.data.sample_shape) != 3:
        return []
    found = save_inversion_pictures(
        ctx.gan, ctx.data, ctx.seed, inverted["settings"], ctx.pictures, ctx.stem
    )
    return [(path, CAPTIONS[kind]) for kind, path in found.items()]


CAPTIONS = {
    "reconstructions": "inversion: held-out test images (rows 1 and 3) and the generator's "
    "closest reconstructions found by gradient descent on the latent (rows 2 and 4)",
    "walk": "inversion: a straight line between the latents found for two real test images "
    "(the originals at both ends)",
}
