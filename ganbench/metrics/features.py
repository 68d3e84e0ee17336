"""The pipeline shared by every metric that compares features of real and generated images.

Real features are computed once per (dataset, split, images' hash, extractor
settings, sample count) and cached on disk as float32; generated images are
converted to uint8 exactly as saved images would be, then embedded by the same
extractor once per job (EvalContext.embedded), so FID, KID and PRDC of one job
share one generation and one pass, and see the same features.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from ganbench.errors import GanbenchError
from ganbench.features.base import Extractor, batched
from ganbench.features.cache import cached_tensors, images_hash
from ganbench.features.weights import WeightsFile, locate
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.registry import EXTRACTORS, has_preprocessing

#: (real features, generated features) -> {key: (value, higher_is_better)}
#: (real features, generated features) -> {key: (value, higher_is_better[, conditions])}.
FeatureScore = Callable[[torch.Tensor, torch.Tensor], dict[str, tuple]]


def extractor_per_device(
    name: str, preprocess: str = "ttur", weights: str = ""
) -> Callable[[torch.device], Extractor]:
    """One extractor per device, loaded on first use: a metric's measure() runs for every job.
    `preprocess` is the Inception's (features/inception.py); other extractors have one way.
    `weights`: a weights file for an extractor that takes one (features/weights.py), which
    is located now, so that a run without it stops before training."""
    entry = EXTRACTORS.get(name)
    params: dict[str, object] = {}
    if preprocess != "ttur":
        if not has_preprocessing(name):
            raise GanbenchError(
                f"preprocess = {preprocess!r}: the {name} extractor has one preprocessing; "
                'preprocess applies to extractor = "inception"'
            )
        params["preprocess"] = preprocess
    if "weights_file" in entry.meta:
        located = locate(name, WeightsFile(**entry.meta["weights_file"]), weights)
        params["weights"] = str(located)
    elif weights:
        raise GanbenchError(
            f"weights = {weights!r}: the {name} extractor takes no weights file "
            "(the Inception's is --inception-weights)"
        )
    return functools.cache(lambda device: entry.factory(device=str(device), **params))


def real_features(
    data_name: str,
    real: torch.Tensor,
    extractor: Extractor,
    batch_size: int,
    device: torch.device,
    settings: dict,
) -> torch.Tensor:
    key = {"dataset": data_name, "images_sha1": images_hash(real), **settings}
    tensors = cached_tensors(
        key,
        lambda: {
            "features": batched(
                extractor, real, batch_size, device, f"{extractor.name}: real {data_name} images"
            ).float()
        },
        shapes={"features": (real.shape[0], getattr(extractor, "dim", None))},
    )
    return tensors["features"].double()


def split_features(
    data, split: str, n: int | None, extractor: Extractor, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Features of the first `n` images (None: all) of a split, cached, on `device`."""
    images = getattr(data, split).images[:n]
    key = {**extractor.settings, "real_split": split, "samples": images.shape[0]}
    return real_features(data.name, images, extractor, batch_size, device, key).to(device)


def reference_features(
    data, split: str, samples: int, extractor: Extractor, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, dict]:
    """Features (float64, on the CPU) of the first `samples` images of a dataset's split,
    as every feature metric's reference, cached under the key that holds every setting;
    and those settings, as a result records them. The library's named references
    ("mnist:test") come through here too, so a run's cache serves them and theirs a run."""
    real = getattr(data, split).images[:samples]
    settings = {
        **extractor.settings,
        "samples": samples,
        "real_split": split,
        "real_samples": real.shape[0],
    }
    return real_features(data.name, real, extractor, batch_size, device, settings), settings


def feature_metric(
    score: FeatureScore,
    extractor_name: str,
    samples: int,
    real_split: str,
    batch_size: int,
    preprocess: str = "ttur",
    latents: str = "random",
    weights: str = "",
    **metric_settings: object,
) -> MetricFn:
    """N generated images (from `latents`: "random" or "sobol") against the first N
    images of the dataset's `real_split`."""
    extractor_on = extractor_per_device(extractor_name, preprocess, weights)

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        device = ctx.gan.device
        extractor = extractor_on(device)
        reference, features_settings = reference_features(
            ctx.data, real_split, samples, extractor, batch_size, device
        )
        generated = ctx.embedded(extractor, samples, batch_size, latents).features
        settings = {**features_settings, **metric_settings}
        if latents != "random":
            settings["latents"] = latents
        # The statistics (float64 covariances, eigendecompositions, k-NN) where the features
        # are: on a GPU, they would otherwise wait on the host.
        try:
            scores = score(reference.to(generated.device), generated)
        except ValueError as e:  # too few images for the statistic (a covariance, k-NN)
            n = reference.shape[0]
            raise GanbenchError(
                f"{ctx.data.name}: {n} real image{'' if n == 1 else 's'} ({real_split} split) "
                f"against {generated.shape[0]} generated: {e}; measure on more images (a "
                'larger dataset, or real_split = "train")'
            ) from None
        return {
            key: Measurement(value, "", higher, settings, *conditions)
            for key, (value, higher, *conditions) in scores.items()
        }

    return measure
