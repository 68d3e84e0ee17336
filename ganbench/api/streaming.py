"""Streaming metrics for training loops: update(images, real=...), compute(), reset().

The peers' way in (torchmetrics' and torcheval's `FID().update(x, real=False)`) on
ganbench's verified code: the same extractors, preprocessing and estimators as the one-shot
functions (api/functions.py), a suite and the CLI, so `compute()` equals the one-shot value
on the same images (tests/test_api_streaming.py holds it to 1e-6).

- Only features are kept, where the metric lives (`metric.to(device)`), never images:
  FID and FD keep float64 sums (d and d x d), the others the features themselves (KID's
  subsets, PRDC's neighbours and CMMD's kernel need every vector; IS keeps the logits).
- The features are computed where the images are: images on a GPU go through the
  extractor on that GPU (one per device, loaded on first use).
- `reference=` fixes the real side: a named split ("mnist:test"), a folder, a tensor of
  real images, or (FID and FD) a statistics .npz. Its features come from the same cache
  as a run's (metrics/features.py: reference_features), computed once, on first use, and
  kept through reset(); only the generated side is reset.
- Where torchmetrics is installed (`pip install 'ganbench[torchmetrics]'`), each class is
  a `torchmetrics.Metric`: Lightning's `self.log(name, metric)` and DDP's state sync work
  (sums reduced by "sum", features by "cat"). Without it, the same classes stand on
  `LocalMetric`, a small nn.Module with the same update/compute/reset.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganbench.api.images import as_uint8_images
from ganbench.errors import GanbenchError
from ganbench.metrics.fid import GaussianStats, frechet_distance


class LocalMetric(nn.Module):
    """What the streaming metrics use of torchmetrics.Metric, for where it is not
    installed: states with defaults that reset() restores, kept on the module's device."""

    def __init__(self, **kwargs: Any) -> None:
        if kwargs:
            raise GanbenchError(
                f"{', '.join(sorted(kwargs))}: torchmetrics' options, and torchmetrics is not "
                "installed: pip install 'ganbench[torchmetrics]'"
            )
        super().__init__()
        self._defaults: dict[str, Any] = {}
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    def add_state(self, name: str, default: Any, dist_reduce_fx: str | None = None) -> None:
        self._defaults[name] = default
        if isinstance(default, torch.Tensor):
            self.register_buffer(name, default.clone(), persistent=False)
        else:
            setattr(self, name, [])

    def reset(self) -> None:
        for name, default in self._defaults.items():
            if isinstance(default, torch.Tensor):
                setattr(self, name, default.clone().to(self.device))
            else:
                getattr(self, name).clear()


try:  # an optional extra: the same classes on torchmetrics' base where it is installed
    from torchmetrics import Metric as MetricBase
except ImportError:  # pragma: no cover - the venv has it; tests build the local variant
    MetricBase = LocalMetric


def joined(state: Any) -> torch.Tensor:
    """A "cat" state as one tensor: a list of batches here, one tensor after a DDP sync."""
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else torch.empty(0, dtype=torch.float64)


class _Streaming:
    """The logic every streaming metric shares, on whichever base the class has."""

    is_differentiable = False
    full_state_update = False
    #: The metric's extractor default and what its reference may be.
    default_extractor = "inception"
    takes_statistics = False

    def _start(
        self,
        metric: str,
        extractor: str,
        preprocess: str,
        weights: str,
        reference: Any,
        value_range: Any,
        samples: int | None,
        batch_size: int | None,
        data_root: Any = None,
        **parameters: Any,
    ) -> None:
        """Checks every parameter by the suite metric `metric`'s rules, as the one-shot
        functions do (a KID of subset_size=-5 gave a value), and names the reference."""
        from ganbench.api.functions import checked
        from ganbench.api.inputs import check_options, source
        from ganbench.metrics.features import extractor_per_device

        given = {"extractor": extractor, "preprocess": preprocess, "weights": weights}
        checked(metric, {**given, "samples": samples, "batch_size": batch_size, **parameters})
        check_options(0, data_root, value_range)
        self.extractor_name = extractor
        self._extractor_on = extractor_per_device(extractor, preprocess, weights)
        self.value_range = value_range
        # Named and checked now (a missing file is an error here, not after an epoch);
        # embedded on first use and kept through reset().
        self._reference_source = None
        if reference is not None:
            self._reference_source = source(
                reference,
                role="real",
                value_range=value_range,
                data_root=data_root,
                allow_statistics=self.takes_statistics,
            )
        self._reference_options = {"samples": samples, "batch_size": batch_size}
        self._reference: Any = None

    def forward(self, images: Any, real: bool = False) -> None:
        """A distribution's metric has no value per batch: calling it updates it."""
        self.update(images, real=real)

    def _features(self, images: Any, real: bool) -> torch.Tensor:
        """The extractor's float64 features of a batch, where the metric's states are."""
        if real and self._reference_source is not None:
            raise GanbenchError(
                f"update(..., real=True) on a {type(self).__name__} with a fixed reference "
                f"({self._reference_source.label}): give real images or a reference, not both"
            )
        batch = as_uint8_images(images, self.value_range, "update(images)")
        net = self._extractor_on(batch.device)
        with torch.no_grad():
            return self._embed(net, batch).to(self.device, torch.float64)

    def _embed(self, net: Any, batch: torch.Tensor) -> torch.Tensor:
        return net(batch)


class _FrechetState(_Streaming):
    """FID and FD: float64 sums of the features and of their outer products, which DDP
    adds across ranks; the Gaussian's mean and covariance come from them in compute()."""

    key = "fid"

    def _add_states(self) -> None:
        """Sums sized by the first batch's features (the extractor's dimension is known
        once it is loaded): every DDP rank must update before compute()."""
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(0, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(0, 0, dtype=torch.float64), "sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.long), "sum")

    def update(self, images: Any, real: bool = False) -> None:
        features = self._features(images, real)
        side = "real" if real else "fake"
        total, outer = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer")
        if total.numel() == 0:
            dim = features.shape[1]
            total = features.new_zeros(dim)
            outer = features.new_zeros(dim, dim)
        setattr(self, f"{side}_sum", total + features.sum(0))
        setattr(self, f"{side}_outer", outer + features.T @ features)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + features.shape[0])

    def _stats(self, side: str) -> GaussianStats:
        n = int(getattr(self, f"{side}_n"))
        if n < 2:
            raise GanbenchError(
                f"{type(self).__name__}.compute(): {n} {side} image{'s' * (n != 1)}; a "
                "covariance needs at least 2 (FID is meant for thousands)"
            )
        total, outer = getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer")
        mu = total / n
        sigma = (outer - n * torch.outer(mu, mu)) / (n - 1)
        return GaussianStats(mu, (sigma + sigma.T) / 2, n)

    def _reference_stats(self) -> GaussianStats:
        if self._reference_source is None:
            return self._stats("real")
        if self._reference is None:
            from ganbench.metrics.fid import gaussian_stats

            found = self._reference_source
            net = self._extractor_on(self.device)
            if found.statistics is not None:
                self._reference = found.checked_statistics(net.settings)
            else:
                self._reference = gaussian_stats(
                    found.features(net, device=self.device, **self._reference_options)
                )
        return self._reference

    def compute(self) -> torch.Tensor:
        fake = self._stats("fake")  # before a reference that may take minutes to embed
        real = self._reference_stats()
        if real.mu.shape != fake.mu.shape:
            raise GanbenchError(
                f"{type(self).__name__}: the reference has {real.mu.shape[0]}-d features, "
                f"the images {fake.mu.shape[0]}-d; make both with extractor={self.extractor_name!r}"
            )
        real = GaussianStats(real.mu.to(self.device), real.sigma.to(self.device), real.n)
        return torch.tensor(frechet_distance(real, fake), dtype=torch.float64)


class _FeatureState(_Streaming):
    """KID, PRDC and CMMD: the features of both sides ("cat" across DDP ranks)."""

    def _add_states(self) -> None:
        self.add_state("real_features", [], "cat")
        self.add_state("fake_features", [], "cat")

    def update(self, images: Any, real: bool = False) -> None:
        getattr(self, "real_features" if real else "fake_features").append(
            self._features(images, real)
        )

    def _sides(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, generated) features on the metric's device."""
        fake = joined(self.fake_features)
        if fake.shape[0] < 2:  # before a reference that may take minutes to embed
            raise GanbenchError(
                f"{type(self).__name__}.compute(): {fake.shape[0]} generated image(s); it "
                "needs at least 2"
            )
        if self._reference_source is None:
            real = joined(self.real_features)
        else:
            if self._reference is None:
                net = self._extractor_on(self.device)
                self._reference = self._reference_source.features(
                    net, device=self.device, **self._reference_options
                )
            real = self._reference.to(self.device)
        for side, features in (("real", real), ("generated", fake)):
            if features.shape[0] < 2:
                raise GanbenchError(
                    f"{type(self).__name__}.compute(): {features.shape[0]} {side} "
                    "image(s); it needs at least 2 of each"
                )
        return real, fake


class _FID(_FrechetState):
    """Streaming FID (TTUR Inception pool3 by default): equal to ganbench.fid on the
    same images. `reference`: "mnist:test", a folder, real images or a .npz; without
    it, real images come through update(images, real=True)."""

    higher_is_better = False
    takes_statistics = True
    metric = "fid"  # the suite metric whose rules its parameters follow

    def __init__(
        self,
        *,
        reference: Any = None,
        extractor: str | None = None,
        preprocess: str = "ttur",
        weights: str = "",
        value_range: Any = None,
        samples: int | None = None,
        batch_size: int = 200,
        data_root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        name = extractor or self.default_extractor
        self._check_extractor(name)
        self._start(
            self.metric, name, preprocess, weights, reference, value_range, samples, batch_size,
            data_root,
        )  # fmt: skip
        self._add_states()

    def _check_extractor(self, name: str) -> None:
        """FID's extractor may be any; FD narrows it."""


class _FD(_FID):
    """Streaming FD_DINOv2 (Stein et al. 2023) or FD in a CLIP space: FID's estimator
    on another network's features; equal to ganbench.fd on the same images."""

    default_extractor = "dinov2-vit-l14"
    metric = "fd"

    def _check_extractor(self, name: str) -> None:
        from ganbench.metrics.fd import FD_EXTRACTORS, fd_key

        if name not in FD_EXTRACTORS:
            raise GanbenchError(
                f"FD: extractor={name!r}; valid: {', '.join(FD_EXTRACTORS)} (FID is FD "
                "on inception: use FID)"
            )
        self.key = fd_key(name)


class _KID(_FeatureState):
    """Streaming KID (unbiased cubic-kernel MMD^2 over random subsets): compute()
    returns (mean, std) as ganbench.kid does."""

    higher_is_better = False

    def __init__(
        self,
        *,
        reference: Any = None,
        subsets: int = 100,
        subset_size: int = 1000,
        extractor: str = "inception",
        preprocess: str = "ttur",
        weights: str = "",
        value_range: Any = None,
        samples: int | None = None,
        batch_size: int = 200,
        data_root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._start(
            "kid", extractor, preprocess, weights, reference, value_range, samples, batch_size,
            data_root, subsets=subsets, subset_size=subset_size,
        )  # fmt: skip
        self.subsets, self.subset_size = subsets, subset_size
        self._add_states()

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        from ganbench.metrics.kid import kid

        mean, std = kid(*self._sides(), self.subsets, self.subset_size)
        return torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)


class _PRDC(_FeatureState):
    """Streaming precision, recall, density and coverage (k-NN manifolds): compute()
    returns a dict of the four, as ganbench.prdc does."""

    higher_is_better = True

    def __init__(
        self,
        *,
        reference: Any = None,
        k: int = 5,
        extractor: str = "inception",
        preprocess: str = "ttur",
        weights: str = "",
        value_range: Any = None,
        samples: int | None = None,
        batch_size: int = 200,
        data_root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._start(
            "prdc", extractor, preprocess, weights, reference, value_range, samples, batch_size,
            data_root, k=k,
        )  # fmt: skip
        self.k = k
        self._add_states()

    def compute(self) -> dict[str, torch.Tensor]:
        from ganbench.metrics.prdc import prdc

        real, fake = self._sides()
        if min(real.shape[0], fake.shape[0]) <= self.k:
            raise GanbenchError(
                f"PRDC.compute(): {real.shape[0]} real and {fake.shape[0]} generated "
                f"images; k = {self.k} nearest neighbours need more than k of each"
            )
        values = prdc(real, fake, self.k).__dict__
        return {key: torch.tensor(v, dtype=torch.float64) for key, v in values.items()}


class _CMMD(_FeatureState):
    """Streaming CMMD (Jayasumana et al. 2024) on CLIP embeddings, as ganbench.cmmd."""

    higher_is_better = False
    default_extractor = "clip-vit-l14-336"

    def __init__(
        self,
        *,
        reference: Any = None,
        extractor: str = "clip-vit-l14-336",
        estimator: str = "biased",
        weights: str = "",
        value_range: Any = None,
        samples: int | None = None,
        batch_size: int = 50,
        data_root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._start(
            "cmmd", extractor, "ttur", weights, reference, value_range, samples, batch_size,
            data_root, estimator=estimator,
        )  # fmt: skip
        self.estimator = estimator
        self._add_states()

    def compute(self) -> torch.Tensor:
        from ganbench.metrics.cmmd import SIGMA, cmmd

        value = cmmd(*self._sides(), SIGMA, self.estimator)
        return torch.tensor(value, dtype=torch.float64)


class _InceptionScore(_Streaming):
    """Streaming Inception Score of generated images (the classifier's logits are
    kept): compute() returns (mean, std) over `splits` consecutive splits."""

    higher_is_better = True

    def __init__(
        self,
        *,
        splits: int = 10,
        extractor: str = "inception",
        preprocess: str = "ttur",
        weights: str = "",
        value_range: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        metric = "is" if extractor == "inception" else "is-mnist"  # as inception_score's
        self._start(
            metric, extractor, preprocess, weights, None, value_range, None, None, splits=splits
        )
        self.splits = splits
        self.add_state("logits", [], "cat")

    def _embed(self, net: Any, batch: torch.Tensor) -> torch.Tensor:
        from ganbench.features.inception import CLASSIFIER_MISSING

        if not net.has_classifier:
            raise GanbenchError(f"Inception Score {CLASSIFIER_MISSING}")
        return net.logits(batch)

    def update(self, images: Any, real: bool = False) -> None:
        if real:
            raise GanbenchError(
                "InceptionScore.update(..., real=True): the Inception Score takes "
                "generated images only"
            )
        self.logits.append(self._features(images, False))

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        from ganbench.metrics.inception_score import inception_score

        logits = joined(self.logits)
        if logits.shape[0] < self.splits:
            raise GanbenchError(
                f"InceptionScore.compute(): {logits.shape[0]} images for {self.splits} "
                "splits; give at least one image per split"
            )
        mean, std = inception_score(logits, self.splits)
        return torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)


#: Each metric's logic, to be put on a base (the public names drop the underscore).
LOGIC = {
    "FID": _FID,
    "FD": _FD,
    "KID": _KID,
    "PRDC": _PRDC,
    "CMMD": _CMMD,
    "InceptionScore": _InceptionScore,
}


def streaming_classes(base: type) -> dict[str, type]:
    """FID, FD, KID, PRDC, CMMD and InceptionScore on `base` (torchmetrics.Metric where
    installed, else LocalMetric): one definition, two bases (tests build both)."""
    return {
        name: type(
            name,
            (logic, base),
            {"__module__": __name__, "__qualname__": name, "__doc__": logic.__doc__},
        )
        for name, logic in LOGIC.items()
    }


#: The classes on torchmetrics' Metric where it is installed, else on LocalMetric.
CLASSES = streaming_classes(MetricBase)
FID = CLASSES["FID"]
FD = CLASSES["FD"]
KID = CLASSES["KID"]
PRDC = CLASSES["PRDC"]
CMMD = CLASSES["CMMD"]
InceptionScore = CLASSES["InceptionScore"]
__all__ = ["CMMD", "FD", "FID", "KID", "PRDC", "InceptionScore", "LocalMetric"]
