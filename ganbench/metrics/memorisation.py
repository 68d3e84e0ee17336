"""Memorisation: is the generator copying its training images?

Two views from the same features (ganbench's MNIST classifier by default):

- The train-vs-test gap (the generalisation test of Gulrajani, Raffel & Metz 2019,
  "Towards GAN Benchmarks Which Require Generalization"): FID of N generated images
  against N training images and against N held-out test images. A generator that
  generalises is as far from both; one that copies training images is closer to the
  training split.
- The memorised fraction, in the spirit of MiFID's memorisation distance (Bai et al.
  2021, "On Training Sample Memorization: Lessons from Benchmarking Generative
  Modeling with a Large-scale Competition"): each sample's distance to its nearest
  training image, against the same distance for held-out test images. A sample is
  counted as memorised when it is closer to a training image than all but `quantile`
  of the test images are, so a generator that produces new images from the data
  distribution scores about `quantile`, and one that copies training images scores 1.
"""

from __future__ import annotations

import torch

from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device, split_features
from ganbench.metrics.fid import frechet_distance, gaussian_stats
from ganbench.registry import METRICS

#: Generated rows per distance block: 128 x 60,000 float64 distances is 61 MB.
BLOCK = 128


def nearest(queries: torch.Tensor, references: torch.Tensor, k: int = 1):
    """Each query's `k` nearest reference rows: (Euclidean distances, indices), in blocks
    of BLOCK queries."""
    blocks = [
        torch.cdist(queries[i : i + BLOCK], references).topk(k, largest=False)
        for i in range(0, len(queries), BLOCK)
    ]
    return torch.cat([b.values for b in blocks]), torch.cat([b.indices for b in blocks])


def nearest_distances(queries: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Each query's Euclidean distance to its nearest reference row."""
    return nearest(queries, references)[0][:, 0]


def memorised_fraction(
    generated: torch.Tensor, held_out: torch.Tensor, train: torch.Tensor, quantile: float
) -> tuple[float, float]:
    """(fraction of generated rows closer to `train` than the `quantile` of held-out rows
    are, that distance)."""
    threshold = torch.quantile(nearest_distances(held_out, train), quantile)
    return float((nearest_distances(generated, train) < threshold).double().mean()), float(
        threshold
    )


@METRICS.register(
    "memorisation",
    requires={"digits"},
    extractor="mnist-classifier",
    keys=("train_fid", "test_fid", "memorised_fraction"),
)
def memorisation(
    *,
    samples: int = 10000,
    quantile: float = 0.01,
    batch_size: int = 1000,
    extractor: str = "mnist-classifier",
) -> MetricFn:
    """FID against the train and the test split, and the fraction of samples nearer a
    training image than held-out images are (nearest neighbours among all of train)."""
    extractor_on = extractor_per_device(extractor)

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        device = ctx.gan.device
        net = extractor_on(device)

        generated = ctx.embedded(net, samples, batch_size).features
        train_all = split_features(ctx.data, "train", None, net, batch_size, device)
        test = split_features(ctx.data, "test", samples, net, batch_size, device)
        train = train_all[:samples]
        fake = gaussian_stats(generated)
        fraction, _ = memorised_fraction(generated, test, train_all, quantile)
        settings = {
            **net.settings,
            "samples": samples,
            "train_samples": train.shape[0],
            "test_samples": test.shape[0],
            "nearest_among": f"{train_all.shape[0]} training images",
            "quantile": quantile,
        }
        return {
            "train_fid": Measurement(
                frechet_distance(gaussian_stats(train), fake), "", False, settings
            ),
            "test_fid": Measurement(
                frechet_distance(gaussian_stats(test), fake), "", False, settings
            ),
            "memorised_fraction": Measurement(fraction, "fraction", False, settings),
        }

    return measure
