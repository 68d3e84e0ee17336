"""A project's own images as a dataset: a folder of image files, or .npy/.npz arrays.

Both become the same in-memory uint8 dataset as MNIST or CIFAR-10, so training,
real-feature caching (keyed by the images' hash) and every image metric work
unchanged. The test split is a fixed, seeded share of the images unless the
arrays bring their own.
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ganbench.data.images import ImageDataset, Split
from ganbench.errors import GanbenchError
from ganbench.features.folders import read_folder
from ganbench.registry import DATASETS

#: The split is drawn with this seed, so a dataset's test images never change.
SPLIT_SEED = 0


def _existing(path: str, what: str) -> Path:
    if not path:
        raise GanbenchError(
            f'dataset {what!r}: set path = "..." in its [[datasets]] table (ganbench eval: '
            f"--dataset {what}:path=...)"
        )
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise GanbenchError(
            f"dataset {what!r}: {path} does not exist (relative paths are read from "
            f"{Path.cwd()}); give the path of your {'images' if what == 'folder' else 'array file'}"
        )
    return resolved


def _split(images: torch.Tensor, test_fraction: float, what: str) -> tuple[Split, Split]:
    if not 0 < test_fraction < 1:
        raise GanbenchError(f"dataset {what!r}: test_fraction must be between 0 and 1")
    n = images.shape[0]
    test = max(1, round(n * test_fraction))
    if n - test < 1:
        raise GanbenchError(
            f"dataset {what!r}: {n} image(s) are too few to split into train and test; add "
            "images (at least 2), or give arrays whose .npz holds its own `test`"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    unlabelled = torch.zeros(n, dtype=torch.long)
    return (
        Split(images[order[test:]], unlabelled[test:]),
        Split(images[order[:test]], unlabelled[:test]),
    )


@DATASETS.register("folder", capabilities={"images"})
def image_folder(
    *, path: str = "", resolution: int = 0, channels: int = 3, test_fraction: float = 0.1
) -> ImageDataset:
    """Every image below a folder (png, jpg, ...), resized to `resolution` if set (bicubic)."""
    folder = _existing(path, "folder")
    if not folder.is_dir():
        raise GanbenchError(
            f"dataset 'folder': {path} is a file; give the folder that holds the images "
            "(they are read from every subfolder)"
        )
    if channels not in (1, 3):
        raise GanbenchError(f"dataset 'folder': channels must be 1 or 3, got {channels}")
    images = read_folder(folder, channels == 1, resolution, "set resolution = N to resize them")
    train, test = _split(images, test_fraction, "folder")
    return ImageDataset("folder", train, test, f"{images.shape[0]} images from {folder}")


def _as_images(array: np.ndarray, source: str) -> torch.Tensor:
    """uint8 (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3 -> (N, C, H, W)."""
    if array.ndim == 0 or array.shape[0] == 0:
        raise GanbenchError(f"{source}: no images (shape {tuple(array.shape)}); {FIX}")
    if array.dtype != np.uint8:
        raise GanbenchError(
            f"{source}: dtype {array.dtype}; store images as uint8 in [0, 255] "
            "(e.g. (x * 255).round().astype(np.uint8))"
        )
    if not array.flags.writeable:  # a memory-mapped .npy: read it into memory
        array = np.array(array)
    images = torch.from_numpy(np.ascontiguousarray(array))
    if images.dim() == 3:
        return images.unsqueeze(1)
    if images.dim() == 4 and images.shape[1] in (1, 3):
        return images
    if images.dim() == 4 and images.shape[3] in (1, 3):
        return images.permute(0, 3, 1, 2).contiguous()
    raise GanbenchError(
        f"{source}: shape {tuple(array.shape)}; expected (N, H, W), (N, H, W, C) or "
        "(N, C, H, W) with 1 or 3 channels"
    )


#: What reading a damaged or hostile array file raises: a truncated member (EOFError,
#: BadZipFile, zlib.error), a header claiming more than the file or the memory holds
#: (ValueError from the memory map, MemoryError), object arrays refused without pickle
#: (ValueError), a mangled header (tokenize.TokenError, SyntaxError: numpy parses it as a
#: Python literal). The fuzz test of tests/test_file_datasets.py found the last ones.
UNREADABLE = (
    OSError,
    ValueError,
    EOFError,
    MemoryError,
    SyntaxError,
    TypeError,
    KeyError,
    tokenize.TokenError,
    zipfile.BadZipFile,
    zlib.error,
)
FIX = "save images with np.save(path, images) or np.savez(path, train=images, test=test_images)"


def _member(loaded: np.lib.npyio.NpzFile, name: str, file: Path) -> torch.Tensor:
    try:
        array = loaded[name]
    except UNREADABLE as e:
        raise GanbenchError(
            f"{file}[{name}]: cannot read it ({type(e).__name__}: {e}); {FIX}"
        ) from None
    images = _as_images(array, f"{file}[{name}]")
    if images.shape[0] == 0:
        raise GanbenchError(f"{file}[{name}]: 0 images; {FIX}")
    return images


@DATASETS.register("arrays", capabilities={"images"})
def image_arrays(*, path: str = "", test_fraction: float = 0.1) -> ImageDataset:
    """uint8 images from a .npy file, or a .npz with arrays `train` (and `test`)."""
    file = _existing(path, "arrays")
    try:  # a .npy is memory-mapped: a header claiming terabytes fails here, not in malloc
        loaded = np.load(file, allow_pickle=False, mmap_mode="r")
    except UNREADABLE as e:
        raise GanbenchError(
            f"{file}: not a readable .npy/.npz array file ({type(e).__name__}: {e}); {FIX}"
        ) from None
    if isinstance(loaded, np.ndarray):
        train, test = _split(_as_images(loaded, str(file)), test_fraction, "arrays")
    else:
        with loaded:
            if "train" not in loaded.files:
                raise GanbenchError(
                    f"{file}: no array 'train' (it holds {', '.join(loaded.files) or 'nothing'}); "
                    "save it with np.savez(path, train=images, test=test_images)"
                )
            images = _member(loaded, "train", file)
            if "test" in loaded.files:
                held_out = _member(loaded, "test", file)
                if held_out.shape[1:] != images.shape[1:]:
                    raise GanbenchError(
                        f"{file}: test images are {tuple(held_out.shape[1:])}, train images "
                        f"{tuple(images.shape[1:])}; they must match"
                    )
                labels = torch.zeros(images.shape[0], dtype=torch.long)
                train = Split(images, labels)
                test = Split(held_out, torch.zeros(held_out.shape[0], dtype=torch.long))
            else:
                train, test = _split(images, test_fraction, "arrays")
    return ImageDataset(
        "arrays",
        train,
        test,
        f"{train.images.shape[0]} + {test.images.shape[0]} images from {file}",
    )
