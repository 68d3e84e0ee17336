"""Real-image features cached on disk under a key that holds every setting.

The key is the full description of what was measured (dataset, split, a hash
of the images' bytes, extractor and its weights hash, resize, sample count);
the file name is its hash and the key is stored inside and compared on load,
so a cache entry is reused only for exactly the same computation; and an entry whose
tensors do not hold what the key says (another number of images, NaN, another dtype) is
damaged: recomputed with a one-line warning, never used.
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

from ganbench.errors import WriteFailed
from ganbench.formatting import warn
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
    key: dict[str, Any],
    compute: Callable[[], dict[str, torch.Tensor]],
    shapes: dict[str, tuple[int | None, ...]] | None = None,
) -> dict[str, torch.Tensor]:
    """Returns compute()'s float32 tensors, from disk when the same key was computed
    before and the entry holds what the key says: each of `shapes`' tensors with that
    shape (None: any length on that axis), and every tensor float32 and finite."""
    canonical = json.dumps({"cache_format": CACHE_FORMAT, **key}, sort_keys=True)
    path = cache_dir() / f"{hashlib.sha256(canonical.encode()).hexdigest()[:24]}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            reused = isinstance(stored, dict) and stored.pop("key", None) == canonical
            damage = _damage(stored, shapes or {}) if reused else None
        except Exception as e:  # a damaged cache entry is recomputed, never trusted
            reused, damage = True, f"unreadable ({type(e).__name__})"
        if reused and damage is None:
            return stored
        if damage is not None:
            warn(f"{path}: a damaged cache entry, {damage}; recomputing")
    tensors = compute()
    buffer = io.BytesIO()
    torch.save({"key": canonical, **tensors}, buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except WriteFailed as e:  # a cache saves time only: the value stands without it
        warn(f"{e}; the features are not cached")
    return tensors


def _damage(stored: dict, shapes: dict[str, tuple[int | None, ...]]) -> str | None:
    """Why an entry stored under the right key cannot stand for it (None: it can): a
    truncated or edited entry gave FID from 3 reference images recorded as 100."""
    for name in shapes:
        if name not in stored:
            return f"no {name!r}"
    for name, value in stored.items():
        if not isinstance(value, torch.Tensor) or value.dtype != torch.float32:
            return f"{name!r} is not a float32 tensor"
        expected = shapes.get(name)
        if expected is not None and (
            value.ndim != len(expected)
            or any(e is not None and e != n for e, n in zip(expected, value.shape, strict=True))
        ):
            return f"{name!r} has shape {tuple(value.shape)}, the key says {expected}"
        if not bool(torch.isfinite(value).all()):
            return f"{name!r} holds NaN or infinite values"
    return None
