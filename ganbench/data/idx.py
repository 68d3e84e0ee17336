"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzipped.

Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions,
then one big-endian uint32 per dimension, then the data.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ganbench.errors import GanbenchError

UINT8 = 0x08


def read_idx(path: Path) -> np.ndarray:
    """Reads an uint8 IDX file (.gz or not) into an array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GanbenchError(f"{path}: cannot read IDX file ({e}); replace the file") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != UINT8:
        raise GanbenchError(
            f"{path}: not an uint8 IDX file (header {raw[:4].hex()}); "
            "expected the MNIST-format files such as train-images-idx3-ubyte.gz"
        )
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise GanbenchError(
            f"{path}: truncated IDX file: header says {shape}, "
            f"holds {data.size} values; download it again"
        )
    return data.reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Writes an uint8 array as IDX (gzipped when `path` ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
