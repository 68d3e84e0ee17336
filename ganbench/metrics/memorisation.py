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

Real memorisation is rarely byte-exact, so the distance is a near-copy distance
(definition 3): each image loses its background level first (its BACKGROUND_QUANTILE
pixel value is subtracted and what falls below 0 is cut: noise on the black background,
positive once clamped to [0, 255], and a brightness offset go, the strokes stay); then
both images are blurred (5x5 binomial) and standardised (zero mean, unit norm: contrast
does not count), the training image is shifted by up to SHIFT pixels each way, and the
smallest distance over the shifts and over the CANDIDATES nearest training images (by
the extractor's features, and by 7x7 pooled pixels after centring each image on its
centre of mass) is taken. Copies shifted by a pixel or two, with noise, blurred or with
changed contrast are then as close as exact ones; fresh digits, held to the same
distance as the held-out ones, stay at about `quantile`. Definition 2 had no background
step. The held-out images are `samples` test images spread evenly over the test split
(definition 4; the first `samples` before, one of MNIST's two writer populations).
Where detection stops, on all 60,000 training digits: docs/diagnostics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device, real_features, split_features
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


#: Pixels a training image is shifted each way when matching a near copy.
SHIFT = 2
#: Training images compared pixel by pixel with each query, from each of two searches.
CANDIDATES = 16
#: Queries per block of the pixel comparison (block x 2 CANDIDATES x 784 float64).
PIXEL_BLOCK = 128


#: The share of a digit image's pixels taken as background: MNIST's strokes cover 19 % of
#: its 28x28 pixels on average and under a quarter of nearly every image.
BACKGROUND_QUANTILE = 0.75


def _foreground(images: torch.Tensor) -> torch.Tensor:
    """float64 (..., H, W) less each image's background level (its BACKGROUND_QUANTILE
    pixel value), cut at 0: a black background's noise, positive once clamped to [0, 255],
    and a brightness offset go; the strokes stay. An order statistic, not torch.quantile,
    which refuses more than 2**24 values (60,000 MNIST images)."""
    x = images.double()
    flat = x.flatten(-2)
    rank = int(BACKGROUND_QUANTILE * (flat.shape[-1] - 1)) + 1  # kthvalue counts from 1
    level = flat.kthvalue(rank, dim=-1, keepdim=True).values.unsqueeze(-1)
    return (x - level).clamp(min=0)


def _blurred(images: torch.Tensor) -> torch.Tensor:
    """float64 (..., C, H, W) through a 5x5 binomial blur (edges replicated): a pixel of
    noise, a blurred stroke or a stroke a pixel wider counts little."""
    shape = images.shape
    x = F.pad(images.double().reshape(-1, 1, *shape[-2:]), (2, 2, 2, 2), mode="replicate")
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64, device=x.device) / 16
    # Separable: the 5x5 binomial is the outer product of 5 taps (2.5x fewer products).
    x = F.conv2d(x, taps.view(1, 1, 5, 1))
    return F.conv2d(x, taps.view(1, 1, 1, 5)).view(shape)


def _centred(images: torch.Tensor) -> torch.Tensor:
    """Each image shifted (whole pixels, zero fill) to put its centre of mass in the middle:
    a copy moved by a few pixels is found where its source is."""
    x = images.double()
    h, w = x.shape[-2:]
    mass = x.sum((-3, -2, -1)).clamp(min=1e-12)
    ys = torch.arange(h, dtype=torch.float64, device=x.device)
    xs = torch.arange(w, dtype=torch.float64, device=x.device)
    cy = (x.sum((-3, -1)) * ys).sum(-1) / mass
    cx = (x.sum((-3, -2)) * xs).sum(-1) / mass
    reach = 2 * SHIFT
    dy = ((h - 1) / 2 - cy).round().long().clamp(-reach, reach)
    dx = ((w - 1) / 2 - cx).round().long().clamp(-reach, reach)
    padded = F.pad(x, (reach,) * 4)
    out = torch.empty_like(x)
    for a, b in torch.stack([dy, dx], 1).unique(dim=0).tolist():  # at most 81 moves
        which = (dy == a) & (dx == b)
        out[which] = padded[which][..., reach - a : reach - a + h, reach - b : reach - b + w]
    return out


def _standardised(x: torch.Tensor) -> torch.Tensor:
    """Rows (..., D) at zero mean and unit norm: brightness and contrast do not count."""
    x = x - x.mean(-1, keepdim=True)
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def canonical(images: torch.Tensor) -> torch.Tensor:
    """uint8 or float (N, C, H, W) -> foreground, blurred, standardised rows (N, C*H*W)."""
    return _standardised(_blurred(_foreground(images)).flatten(1))


def _pooled(images: torch.Tensor) -> torch.Tensor:
    """A coarse, centred view for finding candidates that a shift does not move: 7x7
    cells of the canonical image, the foreground's centre of mass in the middle."""
    centred = _blurred(_centred(_foreground(images)))
    pooled = F.adaptive_avg_pool2d(_standardised(centred.flatten(1)).view(images.shape), (7, 7))
    return pooled.flatten(1)


@dataclass(frozen=True)
class TrainingSet:
    """What near-copy matching searches: the training images, their features and their
    pooled view, prepared once per dataset (not once per set of queries)."""

    images: torch.Tensor
    features: torch.Tensor
    pooled: torch.Tensor


def training_set(images: torch.Tensor, features: torch.Tensor) -> TrainingSet:
    return TrainingSet(images, features, _pooled(images))


def _candidate_similarities(
    queries: torch.Tensor, query_features: torch.Tensor, train: TrainingSet
) -> tuple[torch.Tensor, torch.Tensor]:
    """(similarity, index) of each query's 2 x CANDIDATES candidate training images: the
    nearest by features and by pooled pixels; similarity is the best over shifts of up to
    SHIFT pixels of the canonical (blurred, standardised) images' inner product. A
    candidate both searches found is listed twice."""
    by_features = nearest(query_features, train.features, CANDIDATES)[1]
    by_pixels = nearest(_pooled(queries), train.pooled, CANDIDATES)[1]
    device = train.images.device
    candidates = torch.cat([by_features.to(device), by_pixels.to(device)], 1)
    out = []
    for i in range(0, len(queries), PIXEL_BLOCK):
        block = queries[i : i + PIXEL_BLOCK]
        q = canonical(block).view(block.shape[0], 1, *block.shape[1:])  # (B, 1, C, H, W)
        matched = _foreground(train.images[candidates[i : i + PIXEL_BLOCK]])
        out.append(_best_over_shifts(F.pad(_blurred(matched), (SHIFT,) * 4), q))
    return torch.cat(out), candidates


def _best_over_shifts(padded: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """max over shifts of <standardised(window), q> for windows of `padded` (B, K, C, H+2S,
    W+2S) the size of q (B, 1, C, H, W), which is standardised. As q sums to 0, the
    window's mean drops out of the inner product: <window, q> / |window - its mean|, the
    norm from the window's sum and sum of squares (box sums of an integral image), so no
    window is standardised one by one (with the separable blur, 1.5x faster on MNIST, equal
    to rounding: tests/test_diagnostics.py)."""
    h, w = q.shape[-2:]
    size = q[0].numel()

    def box_sums(x: torch.Tensor) -> torch.Tensor:
        """Each window's sum over channels and pixels, (..., 2S+1, 2S+1) by shift."""
        table = F.pad(x.sum(-3).cumsum(-1).cumsum(-2), (1, 0, 1, 0))
        return table[..., h:, w:] - table[..., :-h, w:] - table[..., h:, :-w] + table[..., :-h, :-w]

    spread = (box_sums(padded * padded) - box_sums(padded) ** 2 / size).clamp(min=0).sqrt()
    spread = spread.clamp(min=1e-12)
    best = torch.full(padded.shape[:2], -1.0, dtype=torch.float64, device=q.device)
    for dy in range(2 * SHIFT + 1):
        for dx in range(2 * SHIFT + 1):
            dot = (padded[..., dy : dy + h, dx : dx + w] * q).sum((-3, -2, -1))
            best = torch.maximum(best, dot / spread[..., dy, dx])
    return best


def _distance(similarity: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of unit vectors from their inner product."""
    return (2 - 2 * similarity).clamp(min=0).sqrt()


def near_copy_distances(
    queries: torch.Tensor, query_features: torch.Tensor, train: TrainingSet
) -> torch.Tensor:
    """Each query image's distance to its nearest training image as a near copy: over the
    CANDIDATES nearest by features and by pooled pixels, and over shifts of up to SHIFT
    pixels, the distance of the canonical (blurred, standardised) images."""
    return _distance(_candidate_similarities(queries, query_features, train)[0].amax(1))


def near_copy_neighbours(
    queries: torch.Tensor, query_features: torch.Tensor, train: TrainingSet, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's `k` nearest training images as near copies: (distances, indices),
    nearest first; the first distance is near_copy_distances'."""
    similarity, candidates = _candidate_similarities(queries, query_features, train)
    ordered, order = candidates.sort(1)
    repeated = torch.zeros_like(ordered, dtype=torch.bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    similarity = similarity.masked_fill(repeated.scatter(1, order, repeated), -2.0)
    best, which = similarity.topk(k, 1)
    return _distance(best), candidates.gather(1, which)


def memorised_fraction(
    generated: torch.Tensor, held_out: torch.Tensor, quantile: float
) -> tuple[float, float]:
    """(fraction of the generated images' near-copy distances below the `quantile` of the
    held-out images' distances, that threshold)."""
    threshold = torch.quantile(held_out, quantile)
    return float((generated < threshold).double().mean()), float(threshold)


def spread_evenly(n: int, total: int) -> torch.Tensor:
    """`n` indices spread evenly over range(total), all of them when n >= total: the
    held-out digits. MNIST's test split holds two writer populations in its two halves
    (the first 5,000 from NIST's SD-3, the last from SD-1), so its first 2,000 digits are
    one population only: they are farther from the training digits, which hold both, and
    set a threshold that flagged 1.7 % of the other test digits at quantile 0.01
    (docs/diagnostics.md)."""
    n = min(n, total)
    return torch.arange(n) * total // n


@METRICS.register(
    "memorisation",
    requires={"digits"},
    extractor="mnist-classifier",
    keys=("train_fid", "test_fid", "memorised_fraction"),
    names={
        "train_fid": "FID to train, MNIST classifier",
        "test_fid": "FID to test, MNIST classifier",
        "memorised_fraction": "memorised share",
    },
    roles={"samples": "samples", "extractor": "extractor"},
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
    #: Per device: the dataset, its prepared training set and the held-out images'
    #: near-copy distances, the same for every job on that dataset.
    prepared: dict[str, tuple[Any, TrainingSet, torch.Tensor]] = {}

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        device = ctx.gan.device
        net = extractor_on(device)

        generated = ctx.embedded(net, samples, batch_size).features
        train_all = split_features(ctx.data, "train", None, net, batch_size, device)
        test_images = ctx.data.test.images[spread_evenly(samples, len(ctx.data.test.images))]
        test = real_features(
            ctx.data.name,
            test_images,
            net,
            batch_size,
            device,
            {**net.settings, "real_split": "test", "samples": len(test_images)},
        ).to(device)
        train = train_all[:samples]
        fake = gaussian_stats(generated)
        data, searched, held_out = prepared.get(str(device), (None, None, None))
        if data is not ctx.data:
            searched = training_set(ctx.data.train.images.to(device), train_all)
            held_out = near_copy_distances(test_images.to(device), test, searched)
            prepared[str(device)] = (ctx.data, searched, held_out)
        queries = ctx.generated(samples).to(device)
        distances = near_copy_distances(queries, generated, searched)
        fraction, _ = memorised_fraction(distances, held_out, quantile)
        settings = {
            **net.settings,
            "samples": samples,
            "train_samples": train.shape[0],
            "test_samples": test.shape[0],
            "test_images": "spread evenly over the test split",
            "nearest_among": f"{train_all.shape[0]} training images",
            "quantile": quantile,
            "matching": (
                f"near copies: background below its {BACKGROUND_QUANTILE:.0%} level removed, "
                f"blurred, standardised, shifts <= {SHIFT} px"
            ),
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
