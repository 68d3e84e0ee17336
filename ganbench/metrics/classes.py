"""Class-aware quality on labelled data: which classes a generator makes, and how well.

A generator can be sharp and still drop classes, or make one class badly; FID and
precision/recall see that only indirectly. On a labelled dataset with a classifier
(MNIST with ganbench's MNIST CNN, Fashion-MNIST with the same CNN trained on it):

- `class-coverage`: each generated image's predicted class; `classes_covered` counts the
  classes that get at least `min_share` of the samples (by default a tenth of a uniform
  share), and `class_kl` is KL(generated class histogram || the real test split's label
  histogram), in nats (0: the real proportions; log 10 = 2.30 for one class of MNIST's
  ten equal ones). The mode count of Metz et al. 2017 and Srivastava et al. 2017, on the
  dataset's own classes.
- On Stacked-MNIST each channel's digit is classified, and (channel, digit) is a class
  of its own: 30 classes; `class_kl` is then the mean over the channels of each
  channel's KL, and a digit one channel lacks shows as a missing class.
- `class-fid`: FID within each class (intra-class FID, as StudioGAN's IFID for
  unconditional models): generated images grouped by the classifier's prediction, real
  test images by their labels, on the classifier's features; `class_fid_mean` over the
  classes, `class_fid_worst` the largest, `class_fid_missing` the classes with fewer than
  `min_class_samples` generated images (left out of the other two).
"""

from __future__ import annotations

import math

import torch

from ganbench.features.base import embed
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.metrics.features import extractor_per_device, split_features
from ganbench.metrics.fid import frechet_distance, gaussian_stats
from ganbench.registry import METRICS, classifier_of, has_capability


def class_histogram(classes: torch.Tensor, n_classes: int) -> torch.Tensor:
    counts = torch.bincount(classes.cpu().long(), minlength=n_classes).double()
    return counts / counts.sum()


def coverage(
    predicted: torch.Tensor, real_labels: torch.Tensor, n_classes: int, min_share: float
) -> tuple[int, float]:
    """(classes with at least `min_share` of the samples, KL(generated || real))."""
    p = class_histogram(predicted, n_classes)
    q = class_histogram(real_labels, n_classes)
    present = p > 0
    kl = float((p[present] * (p[present] / q[present]).log()).sum())
    return int((p >= min_share).sum()), kl


def per_class_fid(
    real: torch.Tensor,
    real_labels: torch.Tensor,
    fake: torch.Tensor,
    predicted: torch.Tensor,
    n_classes: int,
    min_samples: int,
) -> dict[int, float]:
    """FID of each class with at least `min_samples` generated (and 2 real) images."""
    out = {}
    for c in range(n_classes):
        mine, theirs = fake[predicted == c], real[real_labels == c]
        if mine.shape[0] >= min_samples and theirs.shape[0] >= 2:
            out[c] = frechet_distance(gaussian_stats(theirs), gaussian_stats(mine))
    return out


def _classified(ctx: EvalContext, samples: int, batch_size: int):
    """The generated images' classifier features and predicted classes, and the real
    test split's features and labels (the first `samples`), with the dataset's own
    classifier (MNIST's or Fashion-MNIST's CNN). Stacked digits are classified channel by
    channel, and the class of a channel's digit is channel x 10 + digit: 30 classes."""
    net = extractor_per_device(classifier_of(ctx.data))(ctx.gan.device)
    if has_capability(ctx.data, "stacked-digits"):
        return (net, *_per_channel(ctx, net, samples, batch_size))
    embedded = ctx.embedded(net, samples, batch_size)
    predicted = embedded.logits.argmax(1)
    real = split_features(ctx.data, "test", samples, net, batch_size, ctx.gan.device)
    labels = ctx.data.test.labels[:samples].to(real.device)
    return net, embedded.features, predicted, real, labels


def _classes(ctx: EvalContext, net) -> int:
    """The dataset's classes: its classifier's outputs, or 10 per channel of stacked
    digits; never the labels a few test images happen to show (5 samples of MNIST showed
    8 classes, and a missing class made class_kl infinite). Values move only where the
    recorded `classes` setting moves with them, so results stay comparable."""
    if has_capability(ctx.data, "stacked-digits"):
        return 10 * ctx.data.sample_shape[0]
    return int(net.logits(ctx.data.test.images[:1].to(ctx.gan.device)).shape[1])


def _per_channel(ctx: EvalContext, net, samples: int, batch_size: int):
    device = ctx.gan.device
    generated = ctx.generated(samples)
    channels = generated.shape[1]
    fake = embed(net, generated.reshape(-1, 1, *generated.shape[2:]), batch_size, device)
    position = torch.arange(channels, device=fake.logits.device).repeat(len(generated))
    predicted = position * 10 + fake.logits.argmax(1)
    test = ctx.data.test.images[:samples]
    real = embed(net, test.reshape(-1, 1, *test.shape[2:]), batch_size, device).features
    triples = ctx.data.test.labels[:samples].to(real.device)
    places = 10 ** torch.arange(channels - 1, -1, -1, device=real.device)
    digits = (triples[:, None] // places) % 10  # (N, channels), first channel first
    labels = (torch.arange(channels, device=real.device) * 10 + digits).flatten()
    return fake.features, predicted, real, labels


@METRICS.register(
    "class-coverage",
    requires={"classes"},
    extractor="mnist-classifier",
    per_channel=True,
    keys=("classes_covered", "class_kl"),
    names={"classes_covered": "classes made (of {classes})", "class_kl": "class KL"},
    roles={"samples": "samples"},
)
def class_coverage(
    *, samples: int = 10000, min_share: float = 0.01, batch_size: int = 1000
) -> MetricFn:
    """Classes the generator makes (at least min_share of its samples each), and KL of its
    class histogram from the real one (ganbench's MNIST classifier)."""

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        net, _, predicted, _, labels = _classified(ctx, samples, batch_size)
        n_classes = _classes(ctx, net)
        if not has_capability(ctx.data, "stacked-digits"):
            # The dataset's class distribution, from its whole test split: the first few
            # labels miss classes, and a missing class made class_kl infinite.
            labels = ctx.data.test.labels.to(predicted.device)
        covered, kl = coverage(predicted, labels, n_classes, min_share)
        settings = {
            **net.settings,
            "samples": samples,
            "classes": n_classes,
            "min_share": min_share,
            "real": "test split labels",
            "kl_one_class": round(math.log(n_classes), 4),
        }
        return {
            "classes_covered": Measurement(covered, "classes", True, settings),
            "class_kl": Measurement(kl, "nats", False, settings),
        }

    return measure


@METRICS.register(
    "class-fid",
    requires={"classes"},
    extractor="mnist-classifier",
    per_channel=True,
    keys=("class_fid_mean", "class_fid_worst", "class_fid_missing"),
    names={
        "class_fid_mean": "FID within a class, mean",
        "class_fid_worst": "FID within a class, worst",
        "class_fid_missing": "classes not made",
    },
    roles={"samples": "samples"},
)
def class_fid(
    *, samples: int = 10000, min_class_samples: int = 10, batch_size: int = 1000
) -> MetricFn:
    """FID within each class on the MNIST classifier's features: mean and worst over the
    classes the generator makes, and how many it does not."""

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        net, fake, predicted, real, labels = _classified(ctx, samples, batch_size)
        n_classes = _classes(ctx, net)
        fids = per_class_fid(real, labels, fake, predicted, n_classes, min_class_samples)
        settings = {
            **net.settings,
            "samples": samples,
            "real_split": "test",
            "classes": n_classes,
            "min_class_samples": min_class_samples,
        }
        values = list(fids.values())
        return {
            "class_fid_mean": Measurement(
                sum(values) / len(values) if values else None, "", False, settings
            ),
            "class_fid_worst": Measurement(max(values) if values else None, "", False, settings),
            "class_fid_missing": Measurement(n_classes - len(fids), "classes", False, settings),
        }

    return measure
