"""FID statistics to and from .npz files in pytorch-fid's format (arrays mu and sigma), so
that statistics made by pytorch-fid, torch-fidelity or clean-fid can be read and ours
given to them.

ganbench's files also record how they were made (`ganbench stats`, `fid --save-stats`):
`n`, the number of images, and `settings`, a JSON string of the extractor's settings
(network, weights' fingerprint, resize, input scaling) and of the images (dataset, split,
count). A file that records settings is used only with the same extractor settings: FID
of statistics from another resize or other weights is not FID. Files from pytorch-fid and
the others record none and are taken as they are.

A statistics file is data from someone else (docs/security.md): it is read with
allow_pickle=False, each array's header is checked before the array is read (a header
can claim a 10^6 x 10^6 sigma in a few bytes), and anything else is a one-line error.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.fid import GaussianStats, stats_problem
from ganbench.results.files import atomic_write_bytes

#: The largest feature dimension a statistics file may have: twice the largest extractor's
#: (the Inception's 2048). Sigma is d x d numbers of at most 8 bytes, so what a file makes
#: ganbench read and compute stays bounded: 128 MiB and a 4096 x 4096 square root
#: (8000-d, deflated into 527 KB, took 224 s and 3.5 GB).
MAX_DIMENSION = 4096
#: The longest settings string read (ganbench writes well under 2,000 characters).
MAX_SETTINGS = 65536
SETTINGS = "settings"


def _headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's (shape, dtype) from its .npy header, nothing read past the headers."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            with archive.open(member) as f:
                version = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(f)
            out[member.removesuffix(".npy")] = (shape, dtype)
    return out


def _check_headers(path: Path, headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """What can be told before reading: the arrays are there, numbers, and not too large
    (their shapes against each other: stats_problem, after reading)."""
    missing = [k for k in ("mu", "sigma") if k not in headers]
    if missing:
        raise GanbenchError(
            f"{path}: no array {' or '.join(map(repr, missing))} (it holds "
            f"{', '.join(map(repr, headers)) or 'none'}); expected arrays 'mu' and "
            "'sigma' (pytorch-fid's format)"
        )
    (mu_shape, mu_type), (sigma_shape, sigma_type) = headers["mu"], headers["sigma"]
    if mu_type.kind not in "iuf" or sigma_type.kind not in "iuf":
        raise GanbenchError(
            f"{path}: mu and sigma must be numeric arrays, got {mu_type} and {sigma_type}"
        )
    if max(mu_type.itemsize, sigma_type.itemsize) > 8:
        raise GanbenchError(
            f"{path}: mu and sigma are {mu_type} and {sigma_type}; expected 8-byte numbers at "
            "most (float64, as pytorch-fid writes them)"
        )
    if math.prod(mu_shape) > MAX_DIMENSION or math.prod(sigma_shape) > MAX_DIMENSION**2:
        raise GanbenchError(
            f"{path}: mu {mu_shape} and sigma {sigma_shape} hold statistics of more than "
            f"{MAX_DIMENSION} features (the largest extractor gives 2048); not FID statistics"
        )
    if "n" in headers and (headers["n"][0] != () or headers["n"][1].kind not in "iu"):
        raise GanbenchError(
            f"{path}: n is a {headers['n'][1]} array {headers['n'][0]}; "
            "expected the number of images"
        )
    if SETTINGS in headers and (headers[SETTINGS][1].kind != "U" or headers[SETTINGS][0] != ()):
        raise GanbenchError(
            f"{path}: settings is a {headers[SETTINGS][1]} array; expected a string"
        )
    if SETTINGS in headers and (characters := headers[SETTINGS][1].itemsize // 4) > MAX_SETTINGS:
        raise GanbenchError(
            f"{path}: settings of up to {characters} characters; ganbench's have fewer than "
            f"{MAX_SETTINGS}: not its statistics"
        )


def load_statistics(path: Path) -> tuple[GaussianStats, dict[str, Any] | None]:
    """The statistics in `path`, checked, and the settings it records (None: none, as
    pytorch-fid's files): a NaN, a non-symmetric or negative-definite sigma, or shapes
    that do not fit would give a meaningless FID rather than an error."""
    try:
        headers = _headers(path)
        _check_headers(path, headers)
        with np.load(path, allow_pickle=False) as f:
            mu, sigma = f["mu"], f["sigma"]
            n = f["n"] if "n" in headers else None
            settings = str(f[SETTINGS]) if SETTINGS in headers else None
    except GanbenchError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        # OSError: no such file; BadZipFile: cut short, not a zip, or a .npy named .npz;
        # zlib.error: a damaged compressed member
        why = " ".join(str(e).split())[:160] or type(e).__name__
        raise GanbenchError(
            f"{path}: not a statistics .npz ({why}); write it again "
            "(ganbench stats SPLIT --out FILE, or ganbench fid ... --save-stats FILE)"
        ) from None
    count = 0
    if n is not None:
        if int(n) < 2:
            raise GanbenchError(f"{path}: n = {int(n)}; expected the number of images, at least 2")
        count = int(n)
    stats = GaussianStats(
        torch.from_numpy(mu.astype(np.float64)), torch.from_numpy(sigma.astype(np.float64)), count
    )
    if problem := stats_problem(stats):
        raise GanbenchError(f"{path}: {problem}; these are not FID statistics")
    return stats, None if settings is None else _parsed_settings(path, settings)


def _parsed_settings(path: Path, text: str) -> dict[str, Any]:
    if len(text) > MAX_SETTINGS:
        raise GanbenchError(f"{path}: settings of {len(text)} characters; not ganbench's")
    try:
        settings = json.loads(text)
    except (ValueError, RecursionError):
        settings = None
    if not (isinstance(settings, dict) and isinstance(settings.get("extractor"), dict)):
        raise GanbenchError(
            f"{path}: its settings are not ganbench's (a JSON object with the extractor's "
            "settings); make the file again with `ganbench stats`"
        )
    return settings


def load_npz(path: Path) -> GaussianStats:
    """The statistics alone (for callers that check no settings)."""
    return load_statistics(path)[0]


def check_settings(path: Path, recorded: dict[str, Any] | None, extractor: dict) -> None:
    """Refuses statistics made with other extractor settings than `extractor` (FID of two
    resizes or two networks' features means nothing); a file that records none passes."""
    if recorded is None:
        return
    theirs = recorded["extractor"]
    differ = sorted(k for k in {*theirs, *extractor} if theirs.get(k) != extractor.get(k))
    if differ:
        shown = "; ".join(
            f"{k}: file {theirs.get(k, 'absent')!r}, now {extractor.get(k, 'absent')!r}"
            for k in differ
        )
        raise GanbenchError(
            f"{path}: made with other extractor settings ({shown}); compute both sides with "
            "the same --extractor and --preprocess, or make the file again with `ganbench stats`"
        )


def npz_path(path: Path) -> Path:
    """Where `--save-stats PATH` writes: numpy's savez adds .npz, so say so up front."""
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_npz(path: Path, stats: GaussianStats, settings: dict[str, Any] | None = None) -> Path:
    """Writes pytorch-fid's format atomically (a crash leaves the old file or none), with
    `settings` (the extractor's and the images') when given; returns the path written."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {"mu": stats.mu.cpu().numpy(), "sigma": stats.sigma.cpu().numpy()}
    if stats.n >= 2:  # statistics read from a file that did not record it have none
        arrays["n"] = np.int64(stats.n)
    if settings is not None:
        arrays[SETTINGS] = np.array(json.dumps(settings, sort_keys=True))
    np.savez(buffer, **arrays)
    target = npz_path(path)
    atomic_write_bytes(target, buffer.getvalue())
    return target
