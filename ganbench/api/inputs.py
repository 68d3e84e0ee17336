"""What the library's metrics (and the CLI's measuring commands) take as images, and how
each becomes features or statistics.

An input is one of:

- a folder of images (PNG, JPEG, ...), read as it is; images of several sizes are resized
  each on its own by the extractor, as its reference resizes each file it reads;
- a `.npz` of FID statistics (FID and FD only): pytorch-fid's format, or ganbench's, which
  also records the settings it was made with (metrics/fid_stats_file.py);
- images in memory: a torch tensor or numpy array, uint8, or floats with `value_range`
  (api/images.py);
- a generator: a callable (an nn.Module, usually) from latents (N, latent_dim) to images
  in [-1, 1] (or `value_range`), sampled as a suite samples it (training/gan.py: sample);
- a named split of a dataset ganbench knows, "mnist:test", "fashion-mnist:train",
  "cifar10:train" (`data_root=` or $GANBENCH_DATA_ROOT), "stacked-mnist:test": its first
  `samples` images, with their features from the cache a run uses
  (metrics/features.py: reference_features), so each serves the other.

An existing path always wins over a dataset's name: a folder named `mnist` is a folder.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbench.api.images import as_uint8_images, check_value_range
from ganbench.errors import GanbenchError
from ganbench.features.base import Extractor, ImageList, batched
from ganbench.formatting import say
from ganbench.metrics.fid import GaussianStats
from ganbench.runtime.environment import DATA_ROOT_ENV

#: How many images a generator draws and a named split gives when `samples` is not set:
#: a suite's default (metrics/fid.py: fid), so that the cache of a run serves the library.
DEFAULT_SAMPLES = 10000
#: NAME:SPLIT, e.g. mnist:test.
NAMED_SPLIT = re.compile(r"(?P<name>[a-z0-9][a-z0-9_-]*):(?P<split>train|test)")
SPLITS = ("train", "test")

#: Bytes that one batch of a folder's images may take as float32 at their own size, before
#: the extractor resizes them: three 6000x6000 photos in one batch took 3.8 GB.
FOLDER_BATCH_BYTES = 2**28


def folder_batch_size(shape: tuple[int, ...], requested: int) -> int:
    """`batch_size`, made smaller for large images so that a batch stays within
    FOLDER_BATCH_BYTES (each image's features do not depend on its batch)."""
    per_image = 4 * math.prod(shape)
    return max(1, min(requested, FOLDER_BATCH_BYTES // per_image))


class Source:
    """One input of a metric: its images (or statistics), and how to describe them in a
    result's settings."""

    label: str
    #: Statistics read from a file, for FID and FD, and the settings the file records;
    #: None for images.
    statistics: GaussianStats | None = None
    settings: dict[str, Any] | None = None

    def images(
        self, net: Extractor, samples: int | None, latents: str = "random"
    ) -> tuple[torch.Tensor | ImageList, str]:
        """The uint8 images `net` is to see, and their name in progress lines."""
        raise NotImplementedError

    def features(
        self,
        net: Extractor,
        batch_size: int,
        device: torch.device,
        samples: int | None,
        latents: str = "random",
    ) -> torch.Tensor:
        """The extractor's features, float64 on `device`."""
        return self._run(net, net, batch_size, device, samples, latents)

    def logits(
        self, net: Extractor, batch_size: int, device: torch.device, samples: int | None
    ) -> torch.Tensor:
        """The extractor's classifier logits (the Inception Score's), float64 on `device`."""
        return self._run(net, net.logits, batch_size, device, samples, "random")

    def _run(self, net, fn, batch_size, device, samples, latents) -> torch.Tensor:
        images, label = self.images(net, samples, latents)
        return batched(fn, images, batch_size, device, f"{net.name}: {label}", True)

    def describe(self, role: str, count: int) -> dict[str, Any]:
        """What a result records of this input as the `role` ("real" or "generated")
        side, from `count` images."""
        return {role: self.label, f"{role}_images": count}


class ImagesSource(Source):
    """uint8 images in memory (from a tensor or an array)."""

    def __init__(self, images: torch.Tensor | ImageList, label: str) -> None:
        self._images, self.label = images, label

    def images(self, net, samples, latents="random"):
        return (self._images[:samples] if samples else self._images), self.label


class FolderSource(Source):
    """A folder of image files, read when its features are asked for: grey for the
    extractors that take one channel."""

    def __init__(self, path: Path) -> None:
        self.path, self.label = path, str(path)

    def read(self, net: Extractor) -> torch.Tensor | ImageList:
        from ganbench.features.folders import read_folder
        from ganbench.registry import EXTRACTORS

        grey = net.name in EXTRACTORS and EXTRACTORS.get(net.name).meta.get("channels") == 1
        return read_folder(self.path, grayscale=grey, mixed_sizes=True)

    def images(self, net, samples, latents="random"):
        images = self.read(net)
        return (images[:samples] if samples else images), str(self.path)

    def _run(self, net, fn, batch_size, device, samples, latents) -> torch.Tensor:
        images, _ = self.images(net, samples)
        mixed = isinstance(images, ImageList)
        shape = images.largest() if mixed else tuple(images.shape[1:])
        batch = folder_batch_size(shape, batch_size)
        say(
            f"{self.path}: {images.shape[0]} image{'s' * (images.shape[0] != 1)} "
            + ("of several sizes, each resized on its own" if mixed else f"{shape}")
            + (f", {batch} at a time" if batch < batch_size else ""),
            file=sys.stderr,
        )
        try:
            return batched(fn, images, batch, device, f"{net.name}: {self.path}", True)
        except GanbenchError as e:
            if not mixed:
                raise
            raise GanbenchError(f"{self.path}: {e}") from None  # an extractor of one size


#: The most images a statistics file may say it was made from: 2**53, a count that a
#: result's JSON holds exactly (2**64 - 1 was recorded as it was, and overflowed on save).
MAX_STATISTICS_IMAGES = 2**53


class StatisticsSource(Source):
    """A .npz of FID statistics, read and checked when named (before anything is embedded)."""

    def __init__(self, path: Path) -> None:
        from ganbench.metrics.fid_stats_file import load_statistics

        self.path, self.label = path, str(path)
        self.statistics, self.settings = load_statistics(path)
        if self.statistics.n > MAX_STATISTICS_IMAGES:
            raise GanbenchError(
                f"{path}: n = {self.statistics.n} images; no image set is that large (at most "
                "2**53): write the file again with the number of images it was made from"
            )

    def checked_statistics(self, extractor_settings: dict | None) -> GaussianStats:
        """The statistics, refused if the file records other extractor settings than
        `extractor_settings` (None: nothing to check against)."""
        from ganbench.metrics.fid_stats_file import check_settings

        if extractor_settings is not None:
            check_settings(self.path, self.settings, extractor_settings)
        return self.statistics

    def images(self, net, samples, latents="random"):
        raise GanbenchError(
            f"{self.path}: statistics serve FID and FD only; this metric needs images"
        )

    def describe(self, role: str, count: int) -> dict[str, Any]:
        recorded = "recorded" if self.settings is not None else "not recorded"
        return {role: self.label, f"{role}_images": count, f"{role}_settings": recorded}


class DatasetSource(Source):
    """The first `samples` images of a dataset's split, features cached as a run's."""

    def __init__(self, name: str, split: str, data_root: str | None) -> None:
        from ganbench.registry import DATASETS, capabilities

        entry = DATASETS.get(name)  # an unknown name: the registry's error, with suggestions
        if "images" not in capabilities(entry):
            raise GanbenchError(f"{name}:{split}: {name} is not an image dataset")
        self.name, self.split, self.data_root = name, split, data_root
        self.label = f"{name}:{split}"

    def data(self):
        return _dataset(self.name, self.data_root)

    def images(self, net, samples, latents="random"):
        """The split's first images (uncached: the Inception Score's logits)."""
        return getattr(self.data(), self.split).images[: samples or DEFAULT_SAMPLES], self.label

    def features(self, net, batch_size, device, samples, latents="random") -> torch.Tensor:
        """Cached under the key a run uses for its reference (features.reference_features)."""
        from ganbench.metrics.features import reference_features

        features, _ = reference_features(
            self.data(), self.split, samples or DEFAULT_SAMPLES, net, batch_size, device
        )
        return features.to(device)

    def describe(self, role: str, count: int) -> dict[str, Any]:
        if role == "real":  # as a run records its reference
            return {"dataset": self.name, "real_split": self.split, "real_samples": count}
        return {role: self.label, f"{role}_images": count}


#: The largest latent size a generator may declare: 2,048 latents of it take 512 MiB.
MAX_LATENT_DIM = 2**16


class GeneratorSource(Source):
    """A generator sampled as a suite samples it: `n` latents from seed `seed` through the
    generator in eval mode on its own device, its output turned into uint8 images."""

    def __init__(
        self, generator: Callable, latent_dim: int | None, seed: int, value_range: Any, device
    ) -> None:
        from ganbench.training.gan import GAN

        latent_dim = latent_dim or getattr(generator, "latent_dim", None)
        if latent_dim is None:
            raise GanbenchError(
                "a generator needs its latent size: pass latent_dim=... or give it a "
                "latent_dim attribute"
            )
        if type(latent_dim) is not int or not 1 <= latent_dim <= MAX_LATENT_DIM:
            raise GanbenchError(
                f"latent_dim={latent_dim!r}: a generator's latent size is an int in "
                f"[1, {MAX_LATENT_DIM}]"
            )
        from ganbench.evaluate import FunctionModule

        module = (
            generator if isinstance(generator, nn.Module) else FunctionModule(generator, device)
        )
        value_range = check_value_range(value_range) or (-1.0, 1.0)
        images = GeneratedImages(module, value_range)
        self.gan = GAN(images, nn.Identity(), latent_dim, lr_g=0.0, lr_d=0.0)
        self.seed, self.latent_dim = seed, latent_dim
        self.label = f"generator {type(generator).__name__}"

    def generated(self, n: int, latents: str = "random") -> torch.Tensor:
        """`n` images as a suite draws them (EvalContext.generated)."""
        out = self.gan.sample(n, seed=self.seed, on_device=True, latents=latents)
        return out.to(torch.uint8)  # GAN.sample's float32 of GeneratedImages' uint8: exact

    def images(self, net, samples, latents="random"):
        return self.generated(samples or DEFAULT_SAMPLES, latents), "generated images"

    def describe(self, role: str, count: int) -> dict[str, Any]:
        return {role: self.label, "samples": count, "seed": self.seed}


class GeneratedImages(nn.Module):
    """A generator whose output, batch by batch, is held to what images are (one per
    latent; a tensor or array, NCHW or NHWC; uint8 as it is, floats within `value_range`)
    and made uint8 as a suite makes it: floats through float32, as GAN.sample takes them."""

    def __init__(self, generator: nn.Module, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.generator, self.value_range = generator, value_range

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.generator(z)
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not out.is_meta:
            out = out.float()
        what = f"the generator's output for {z.shape[0]} latents"
        images = as_uint8_images(out, self.value_range, what)
        if images.shape[0] != z.shape[0]:
            raise GanbenchError(
                f"the generator returns {images.shape[0]} images for {z.shape[0]} latents; "
                "a generator gives one image per latent"
            )
        return images


@functools.cache
def _dataset(name: str, data_root: str | None):
    from ganbench.registry import build_dataset

    with _root(data_root):
        return build_dataset(name)


@contextlib.contextmanager
def _root(data_root: str | None) -> Iterator[None]:
    """$GANBENCH_DATA_ROOT set to `data_root` while a dataset is found (where its loaders
    look), as `--data-root` sets it."""
    if data_root is None:
        yield
        return
    before = os.environ.get(DATA_ROOT_ENV)
    os.environ[DATA_ROOT_ENV] = str(Path(data_root).resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ[DATA_ROOT_ENV]
        else:
            os.environ[DATA_ROOT_ENV] = before


def source(
    spec: Any,
    *,
    role: str,
    value_range: Any = None,
    latent_dim: int | None = None,
    seed: int = 0,
    real_split: str | None = None,
    data_root: str | None = None,
    device: torch.device | str = "cpu",
    allow_statistics: bool = False,
) -> Source:
    """The Source for one input (see the module's docstring), checked now: a missing file
    or a bad .npz stops before anything is embedded."""
    check_options(seed, data_root, value_range)
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, (torch.Tensor, np.ndarray)):
        what = f"the {role} images"
        label = f"{type(spec).__name__} {tuple(spec.shape)}"
        return ImagesSource(as_uint8_images(spec, value_range, what), label)
    if isinstance(spec, (str, os.PathLike)):
        return _path_or_name(str(spec), real_split, data_root, allow_statistics)
    if callable(spec):
        return GeneratorSource(spec, latent_dim, seed, value_range, device)
    raise GanbenchError(
        f"the {role} input is a {type(spec).__name__}; expected a folder, a .npz, a named "
        "split such as 'mnist:test', images (tensor or array) or a generator"
    )


def check_options(seed: Any, data_root: Any, value_range: Any) -> None:
    """How the inputs are read, checked as a suite checks its own: a seed the suite takes,
    a data root that is a path, a value_range of two numbers."""
    from ganbench.registry import SEEDS

    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or int(seed) not in SEEDS:
        raise GanbenchError(f"seed={seed!r}: expected an int in {SEEDS}, as a suite's seed")
    if data_root is not None and not isinstance(data_root, (str, os.PathLike)):
        raise GanbenchError(
            f"data_root={data_root!r}: expected a folder's path (a str or Path) holding the "
            "datasets, e.g. data_root='/data' with /data/cifar-10-batches-py/"
        )
    check_value_range(value_range)


def _path_or_name(
    text: str, real_split: str | None, data_root: str | None, allow_statistics: bool
) -> Source:
    path = Path(text)
    if path.is_dir():
        return FolderSource(path)
    if path.suffix.lower() == ".npz":
        if not allow_statistics:
            raise GanbenchError(f"{path}: statistics serve FID and FD only; give images")
        if not path.is_file():
            there = path.exists() or path.is_symlink()
            raise GanbenchError(f"{path}: {'not a regular file' if there else 'no such file'}")
        return StatisticsSource(path)
    if path.exists():
        raise GanbenchError(
            f"{path}: not a folder; expected a folder of images or a .npz of statistics"
        )
    named = NAMED_SPLIT.fullmatch(text)
    if named:
        if real_split is not None and real_split != named["split"]:
            raise GanbenchError(
                f"{text} with real_split={real_split!r}: name the split once (mnist:test)"
            )
        return DatasetSource(named["name"], named["split"], data_root)
    from ganbench.registry import DATASETS

    if real_split is not None and real_split not in SPLITS:
        raise GanbenchError(f"real_split={real_split!r}; valid: {', '.join(SPLITS)}")
    if text in DATASETS:  # a dataset's name alone: its real_split, "test" by default
        return DatasetSource(text, real_split or "test", data_root)
    raise GanbenchError(
        f"{text}: no such file or folder, nor a dataset's split (NAME:SPLIT, e.g. mnist:test; "
        f"SPLIT: {' or '.join(SPLITS)})"
    )
