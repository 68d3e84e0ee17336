"""CIFAR-10 (Krizhevsky 2009) from the standard `cifar-10-batches-py` folder.

No package ships CIFAR-10, so it is read from a folder the user gives
(--data-root or $GANBENCH_DATA_ROOT), ./data or ~/.cache/ganbench/data; on a
machine with network the user may opt in to torchvision's download with
--download. The pickles are read as torchvision reads them.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ganbench.data.images import ImageDataset, Split, data_roots, missing_dataset
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS
from ganbench.runtime.downloads import downloads_allowed

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]


def _read_batches(folder: Path, names: list[str]) -> Split:
    images, labels = [], []
    for name in names:
        path = folder / name
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels.extend(batch[b"labels"])
        except (OSError, pickle.UnpicklingError, KeyError, EOFError, ValueError) as e:
            raise GanbenchError(
                f"{path}: not a CIFAR-10 python batch ({type(e).__name__}: {e}); "
                "extract cifar-10-python.tar.gz again"
            ) from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise GanbenchError(f"{path}: field b'data' has shape {data.shape}, expected (N, 3072)")
        images.append(data.reshape(-1, 3, 32, 32))
    return Split(torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long))


def load_folder(folder: Path) -> ImageDataset:
    return ImageDataset(
        "cifar10",
        _read_batches(folder, TRAIN_BATCHES),
        _read_batches(folder, TEST_BATCHES),
        str(folder),
    )


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in TRAIN_BATCHES + TEST_BATCHES)


@DATASETS.register("cifar10", capabilities={"images"})
def cifar10() -> ImageDataset:
    """CIFAR-10 32x32 colour, 50k train / 10k test (from --data-root; --download opts in)."""
    roots = data_roots()
    for root in roots:
        if _is_complete(root / FOLDER):
            return load_folder(root / FOLDER)
    where = [f"{root / FOLDER}/ (data_batch_1..5, test_batch)" for root in roots]
    if downloads_allowed():
        return _downloaded(roots[0], where)
    raise missing_dataset(
        "cifar10",
        where,
        "pass --data-root DIR where DIR/cifar-10-batches-py/ is the extracted "
        "'CIFAR-10 python version' archive (or set GANBENCH_DATA_ROOT); on a machine with "
        "network, add --download to fetch it with torchvision",
    )


def _downloaded(root: Path, where: list[str]) -> ImageDataset:
    """torchvision's download into `root`; without a network, the same one-line advice as
    without --download (it was a 79-line URLError traceback, leaving an empty folder)."""
    from torchvision.datasets import CIFAR10

    existed = root.exists()
    try:
        CIFAR10(str(root), train=True, download=True)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a bad archive, Runtime
        if not existed and root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        reason = getattr(e, "reason", None) or e
        raise missing_dataset(
            "cifar10",
            where,
            f"--download failed ({reason}): on a machine without network, pass --data-root "
            "DIR where DIR/cifar-10-batches-py/ is the extracted 'CIFAR-10 python version' "
            "archive (or set GANBENCH_DATA_ROOT)",
        ) from None
    return load_folder(root / FOLDER)
