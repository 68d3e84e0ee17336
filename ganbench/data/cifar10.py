"""CIFAR-10 (Krizhevsky 2009) from the standard `cifar-10-batches-py` folder.

No package ships CIFAR-10, so it is read from a folder the user gives
(--data-root or $GANBENCH_DATA_ROOT), ./data or ~/.cache/ganbench/data; on a
machine with network the user may opt in to torchvision's download with
--download. The batches are Python pickles from a download, so they are read as data
only: a restricted unpickler builds dicts, lists, strings, numbers and numpy arrays, and
refuses every other callable a pickle names (docs/security.md).
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


#: The only callables a CIFAR-10 batch may name: numpy's array reconstruction (the real
#: files, pickled by numpy 1 under Python 2, say numpy.core; numpy 2 says numpy._core).
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own, whichever version
_NUMPY_BUILDERS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """Python's unpickler with no callable but numpy's array builders: a pickle that
    names anything else (os.system, builtins.exec, ...) is refused before it is called."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _NUMPY_BUILDERS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused {module}.{name}: not CIFAR-10 data") from None


def _read_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """A batch's images (N, 3072) uint8 and labels, read as data only."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
    except Exception as e:  # anything a hostile or damaged pickle raises while being read
        raise GanbenchError(
            f"{path}: not a CIFAR-10 python batch ({type(e).__name__}: {e}); "
            "extract cifar-10-python.tar.gz again"
        ) from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise GanbenchError(
            f"{path}: field b'data' is not a uint8 array; extract the archive again"
        )
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise GanbenchError(f"{path}: field b'data' has shape {data.shape}, expected (N, 3072)")
    if not (isinstance(labels, list) and len(labels) == data.shape[0]) or not all(
        type(label) is int and 0 <= label < 10 for label in labels
    ):
        raise GanbenchError(
            f"{path}: field b'labels' is not {data.shape[0]} classes 0-9; extract the archive again"
        )
    return data, labels


def _read_batches(folder: Path, names: list[str]) -> Split:
    images, labels = [], []
    for name in names:
        data, batch_labels = _read_batch(folder / name)
        labels.extend(batch_labels)
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
