"""The metrics as functions: `ganbench.fid(generated, real)` and its siblings.

The first argument is what is judged (generated images, or a generator), the second the
reference (real images, a named split such as "mnist:test", or FID statistics), as in
torch-fidelity's `calculate_metrics(input1=..., input2="cifar10-train")`. Each input is
anything api/inputs.py takes. The keyword arguments are the suite metric's parameters
(`extractor`, `preprocess`, `samples`, `real_split`, `weights`, `batch_size`), checked by
the same rules as a suite's, plus where and how to read the inputs (`device`,
`value_range`, `latent_dim`, `seed`, `data_root`). `real_split` is the split of a dataset
named alone ("mnist": test by default); a split named in the string ("mnist:train") is
that split, and a real_split= that says another is refused.

The numbers are those of a suite and of the CLI on the same images: the same extractors,
the same conversion of a generator's floats to uint8, the same batches, the same cache of
a named split's features and the same estimators (tests/test_api.py holds them equal).
Each returns a Score: a float that also carries the settings a result file records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ganbench.api.inputs import Source, source
from ganbench.errors import GanbenchError
from ganbench.metrics.base import Score
from ganbench.metrics.fid import (
    GaussianStats,
    check_infinity_features,
    frechet_distance,
    gaussian_stats,
)


@dataclass(frozen=True)
class Options:
    """Where and how the inputs are read; the same for every metric."""

    device: str | torch.device = "auto"
    value_range: Any = None
    latent_dim: int | None = None
    seed: int = 0
    data_root: str | None = None

    def resolved_device(self) -> torch.device:
        from ganbench.runtime.devices import resolve_device

        return resolve_device(str(self.device))

    def source(self, spec: Any, role: str, real_split: str | None, statistics: bool) -> Source:
        return source(
            spec,
            role=role,
            value_range=self.value_range,
            latent_dim=self.latent_dim,
            seed=self.seed,
            real_split=real_split if role == "real" else None,
            data_root=self.data_root,
            device=self.resolved_device(),
            allow_statistics=statistics,
        )


def checked(metric: str, params: dict[str, Any]) -> None:
    """The suite metric's rules for its parameters (names, types, ranges, choices), for
    those the metric has; None means "the default" and is not checked."""
    from ganbench.registry import METRICS
    from ganbench.suite import check_parameters

    entry = METRICS.get(metric)
    known = entry.parameters()
    given = {k: v for k, v in params.items() if v is not None and k in known}
    check_parameters(entry, given, f"ganbench.{metric.replace('-', '_')}")


def _extractor(name: str, preprocess: str, weights: str, device: torch.device):
    from ganbench.metrics.features import extractor_per_device

    return extractor_per_device(name, preprocess, weights)(device)


def _count(features: torch.Tensor, side: Source, least: int, why: str) -> torch.Tensor:
    if features.shape[0] < least:
        raise GanbenchError(
            f"{side.label}: {features.shape[0]} image{'s' * (features.shape[0] != 1)}; {why}"
        )
    return features


#: Why a side needs two images: FID's covariance.
COVARIANCE = "a covariance needs at least 2 (FID is meant for thousands: pytorch-fid uses 50,000)"


def gaussians(
    sides: list[Source],
    extractor: Callable[[], Any],
    batch_size: int,
    device: torch.device,
    samples: int | None,
    images_elsewhere: bool = False,
) -> tuple[list[GaussianStats], list[torch.Tensor | None], dict[str, Any]]:
    """Each side's Gaussian: a file's statistics, or the features' of its images (at least
    2), with `extractor()` built only where a side has images (or `images_elsewhere`: the
    extractor serves other images too, FID-infinity's). Statistics made with other
    settings than the extractor's, or than each other's, are refused. Returns the
    Gaussians, the features (None for a file) and the extractor's settings."""
    embeds = images_elsewhere or any(side.statistics is None for side in sides)
    net = extractor() if embeds else None
    recorded = [side.settings["extractor"] for side in sides if side.settings]
    settings = net.settings if net is not None else (recorded[0] if recorded else {})
    # Files first: one made with other settings is refused before any image is embedded.
    files = {
        i: side.checked_statistics(settings or None)
        for i, side in enumerate(sides)
        if side.statistics is not None
    }
    stats, features = [], []
    for i, side in enumerate(sides):
        if i in files:
            stats.append(files[i])
            features.append(None)
            continue
        found = _count(side.features(net, batch_size, device, samples), side, 2, COVARIANCE)
        stats.append(gaussian_stats(found))
        features.append(found)
    return stats, features, settings


def frechet_between(sides: list[Source], stats: list[GaussianStats]) -> float:
    """The Fréchet distance of two sides' Gaussians, in the order given (the CLI's PATH_A,
    PATH_B; a suite's real, generated)."""
    a, b = stats
    if a.mu.shape != b.mu.shape:
        raise GanbenchError(
            f"{sides[0].label} has {a.mu.shape[0]}-d features, {sides[1].label} "
            f"{b.mu.shape[0]}-d: compute both with the same --extractor / extractor= "
            "(inception: 2048-d)"
        )
    return frechet_distance(GaussianStats(a.mu.to(b.mu.device), a.sigma.to(b.mu.device), a.n), b)


def _frechet(
    key: str,
    generated: Any,
    real: Any,
    extractor: str,
    preprocess: str,
    weights: str,
    samples: int | None,
    real_split: str | None,
    batch_size: int,
    options: Options,
) -> Score:
    sides = [
        options.source(real, "real", real_split, statistics=True),
        options.source(generated, "generated", None, statistics=True),
    ]
    device = options.resolved_device()
    stats, _, net_settings = gaussians(
        sides, lambda: _extractor(extractor, preprocess, weights, device), batch_size, device,
        samples,
    )  # fmt: skip
    settings = {
        **net_settings,
        **sides[0].describe("real", stats[0].n),
        **sides[1].describe("generated", stats[1].n),
    }
    return Score(frechet_between(sides, stats), key, settings, False)


def fid(
    generated: Any,
    real: Any,
    *,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """Fréchet Inception Distance (Heusel et al. 2017) between `generated` and `real`,
    with the TTUR Inception (or another `extractor`); either side may be a .npz of
    statistics. `samples`: how many images a generator draws and a named split gives
    (default 10,000, a suite's); folders and tensors are used whole unless it is set."""
    checked("fid", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    return _frechet(
        "fid", generated, real, extractor, preprocess, weights, samples, real_split,
        batch_size, options,
    )  # fmt: skip


def fd(
    generated: Any,
    real: Any,
    *,
    extractor: str = "dinov2-vit-l14",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 50,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """Fréchet distance on DINOv2 (FD_DINOv2, Stein et al. 2023, as dgm-eval computes it)
    or CLIP features; needs the network's weights (`weights=` a file)."""
    from ganbench.metrics.fd import fd_key

    checked("fd", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    return _frechet(
        fd_key(extractor), generated, real, extractor, "ttur", weights, samples, real_split,
        batch_size, options,
    )  # fmt: skip


def _features_pair(
    generated: Any,
    real: Any,
    net_spec: tuple[str, str, str],
    samples: int | None,
    real_split: str | None,
    batch_size: int,
    options: Options,
    least: int,
    why: str,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """(real, generated) features on the device, and the settings they were made with."""
    fake_side = options.source(generated, "generated", None, statistics=False)
    real_side = options.source(real, "real", real_split, statistics=False)
    device = options.resolved_device()
    net = _extractor(*net_spec, device)
    ours = _count(real_side.features(net, batch_size, device, samples), real_side, least, why)
    theirs = _count(fake_side.features(net, batch_size, device, samples), fake_side, least, why)
    settings = {
        **net.settings,
        **real_side.describe("real", ours.shape[0]),
        **fake_side.describe("generated", theirs.shape[0]),
    }
    return ours, theirs.to(ours.device), settings


def kid(
    generated: Any,
    real: Any,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """Kernel Inception Distance (Bińkowski et al. 2018): the unbiased cubic-kernel MMD^2,
    mean over `subsets` random subsets of `subset_size` (its std in `.std`)."""
    from ganbench.metrics.kid import kid as kid_of

    checked("kid", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    real_f, fake_f, settings = _features_pair(
        generated, real, (extractor, preprocess, weights), samples, real_split, batch_size,
        options, 2, "KID needs at least 2 images on each side",
    )  # fmt: skip
    mean, std = kid_of(real_f, fake_f, subsets, subset_size)
    settings.update(subsets=subsets, subset_size=subset_size)
    return Score(mean, "kid", settings, False, std=std)


def prdc(
    generated: Any,
    real: Any,
    *,
    k: int = 5,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> dict[str, Score]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al.
    2020) on k-NN manifolds: {"precision": ..., "recall": ..., "density": ..., "coverage": ...}."""
    from ganbench.metrics.prdc import prdc as prdc_of

    checked("prdc", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    real_f, fake_f, settings = _features_pair(
        generated, real, (extractor, preprocess, weights), samples, real_split, batch_size,
        options, k + 1, f"k = {k} nearest neighbours need more than k images on each side",
    )  # fmt: skip
    settings["k"] = k
    values = prdc_of(real_f, fake_f, k).__dict__
    return {key: Score(value, key, settings, True) for key, value in values.items()}


def cmmd(
    generated: Any,
    real: Any,
    *,
    extractor: str = "clip-vit-l14-336",
    estimator: str = "biased",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 50,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """CMMD (Jayasumana et al. 2024): 1000 x MMD^2 with a Gaussian kernel (sigma 10) on
    CLIP ViT-L/14@336px embeddings, as google-research/cmmd computes it."""
    from ganbench.metrics.cmmd import SCALE, SIGMA
    from ganbench.metrics.cmmd import cmmd as cmmd_of

    checked("cmmd", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    least = 2 if estimator == "unbiased" else 1  # it leaves out each image's own kernel
    real_f, fake_f, settings = _features_pair(
        generated, real, (extractor, "ttur", weights), samples, real_split, batch_size,
        options, least, f"the {estimator} CMMD needs at least {least} images on each side",
    )  # fmt: skip
    settings.update(sigma=SIGMA, scale=SCALE, estimator=estimator)
    return Score(cmmd_of(real_f, fake_f, SIGMA, estimator), "cmmd", settings, False)


def inception_score(
    images: Any,
    *,
    splits: int = 10,
    extractor: str = "inception",
    preprocess: str = "ttur",
    samples: int | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """Inception Score (Salimans et al. 2016): mean over `splits` consecutive splits (std
    in `.std`); needs pytorch-fid's weights with the classifier layer, or
    extractor="mnist-classifier" for the MNIST score. A generator draws `samples` images
    (default 50,000, a suite's)."""
    from ganbench.api.inputs import DatasetSource, GeneratorSource
    from ganbench.features.inception import CLASSIFIER_MISSING
    from ganbench.metrics.inception_score import inception_score as score_of

    params = {"splits": splits, "samples": samples, "batch_size": batch_size}
    checked("is" if extractor == "inception" else "is-mnist", params)
    options = Options(device, value_range, latent_dim, seed, data_root)
    side = options.source(images, "generated", None, statistics=False)
    device_ = options.resolved_device()
    net = _extractor(extractor, preprocess, "", device_)
    if not net.has_classifier:  # before reading any image
        raise GanbenchError(f"Inception Score {CLASSIFIER_MISSING}")
    drawn = isinstance(side, (GeneratorSource, DatasetSource))  # folders: whole
    logits = side.logits(net, batch_size, device_, samples or (50000 if drawn else None))
    if logits.shape[0] < splits:
        raise GanbenchError(
            f"{side.label}: {logits.shape[0]} images for {splits} splits; each split needs "
            "images: lower --splits / splits= (papers use 10 splits of 50,000 images)"
        )
    mean, std = score_of(logits, splits)
    settings = {**net.settings, **side.describe("generated", logits.shape[0]), "splits": splits}
    settings["classifier_sha1"] = net.classifier_sha1()
    return Score(mean, "inception_score", settings, True, std=std)


def vendi(
    images: Any,
    *,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """The Vendi score (Friedman & Dieng 2023): the effective number of distinct images,
    on an extractor's features with the cosine kernel; no reference."""
    from ganbench.metrics.vendi import vendi_score

    checked("vendi", locals())
    options = Options(device, value_range, latent_dim, seed, data_root)
    side = options.source(images, "generated", None, statistics=False)
    device_ = options.resolved_device()
    net = _extractor(extractor, preprocess, weights, device_)
    features = _count(
        side.features(net, batch_size, device_, samples),
        side,
        1,
        "the Vendi score needs at least 1",
    )
    settings = {**net.settings, **side.describe("generated", features.shape[0])}
    settings["kernel"] = "cosine"
    return Score(vendi_score(features), "vendi", settings, True)


def fid_infinity(
    generated: Any,
    real: Any,
    *,
    extractor: str = "inception",
    preprocess: str = "ttur",
    weights: str = "",
    samples: int | None = None,
    real_split: str | None = None,
    batch_size: int = 200,
    device: str | torch.device = "auto",
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
) -> Score:
    """FID-infinity (Chong & Forsyth 2020): FID at 15 subset sizes of the generated images,
    extrapolated to infinitely many; a generator is sampled from Sobol latents, as the
    authors and a suite do. `details`: the fit's sizes, FIDs and slope. As `ganbench fid
    --infinity`: a statistics file made with other extractor settings is refused, and so
    are no more generated images than the features' dimensions (the fit means nothing)."""
    from ganbench.api.inputs import GeneratorSource
    from ganbench.metrics.fid import INFINITY_POINTS
    from ganbench.metrics.fid import fid_infinity as infinity_of

    checked("fid", {**locals(), "infinity": True})
    options = Options(device, value_range, latent_dim, seed, data_root)
    fake_side = options.source(generated, "generated", None, statistics=False)
    real_side = options.source(real, "real", real_split, statistics=True)
    device_ = options.resolved_device()
    net = _extractor(extractor, preprocess, weights, device_)
    [reference], _, _ = gaussians([real_side], lambda: net, batch_size, device_, samples, True)
    latents = "sobol" if isinstance(fake_side, GeneratorSource) else "random"
    fake = fake_side.features(net, batch_size, device_, samples, latents)
    check_infinity_features(fake, fake_side.label)
    try:
        fit = infinity_of(reference, fake)
    except ValueError as e:
        raise GanbenchError(f"{fake_side.label}: {e}") from None
    settings = {
        **net.settings,
        **real_side.describe("real", reference.n),
        **fake_side.describe("generated", fake.shape[0]),
        "infinity_points": INFINITY_POINTS,
    }
    if latents != "random":
        settings["latents"] = latents
    details = {"sizes": fit.sizes, "fids": fit.fids, "slope": fit.slope}
    return Score(fit.value, "fid_infinity", settings, False, details=details)
