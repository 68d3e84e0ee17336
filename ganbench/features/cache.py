"""Real-image features cached on disk under a key that holds every setting.

The key is the full description of what was measured (dataset, split, a hash
of the images' bytes, extractor and its weights hash, resize, sample count);
the file name is its hash and the key is stored inside and compared on load,
so a cache entry is reused only for exactly the same computation.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganbench.results.files import atomic_write_bytes

CACHE_ENV = "GANBENCH_CACHE"
#: Part of every key: raise it whenever what is stored under a key changes (v1 held
#: mu/sigma, v2 the features), so an older ganbench's entries are never read as current.
CACHE_FORMAT = 2


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ganbench") / "stats"


def images_hash(images: torch.Tensor) -> str:
    return hashlib.sha1(images.contiguous().numpy().tobytes()).hexdigest()


def cached_tensors(
    key: dict[str, Any], compute: Callable[[], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """Returns compute()'s tensors, from disk when the same key was computed before."""
    canonical = json.dumps({"cache_format": CACHE_FORMAT, **key}, sort_keys=True)
    path = cache_dir() / f"{hashlib.sha256(canonical.encode()).hexdigest()[:24]}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.pop("key") == canonical:
                return stored
        except Exception:  # a damaged cache entry is recomputed, never trusted
            pass
    tensors = compute()
    buffer = io.BytesIO()
    torch.save({"key": canonical, **tensors}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return tensors
