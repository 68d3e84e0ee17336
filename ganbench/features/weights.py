"""Where the weights of the pretrained feature networks (DINOv2, CLIP) come from.

No PyPI package ships them, so ganbench never assumes them. For an extractor named N
the file is, in this order:

1. the metric's `weights = "PATH"` in the suite (or `ganbench eval --metric`);
2. `--feature-weights N=PATH` (or a bare `--feature-weights PATH`, for every such
   extractor the command uses), which reaches worker processes as
   $GANBENCH_FEATURE_WEIGHTS;
3. the file where its reference implementation's own loader caches it (torch.hub's
   checkpoints folder for DINOv2, as dgm-eval's torch.hub.load leaves it; ~/.cache/clip
   for OpenAI's CLIP, as `clip.load` leaves it);
4. downloaded there, with --download.

Otherwise the run stops before training with one line naming the file and how to get it.
The weights file is located when a metric is built, which a run does before it creates
its folder; the network itself is loaded when first used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.runtime.downloads import downloads_allowed
from ganbench.runtime.environment import FEATURE_WEIGHTS_ENV


@dataclass(frozen=True)
class WeightsFile:
    """An extractor's published weights: the file, its URL and its reference's cache.

    Plain strings (registration metadata, read without importing torch)."""

    #: What the weights are, for messages: "DINOv2 ViT-L/14 (facebookresearch/dinov2)".
    title: str
    url: str
    #: "torch-hub" (torch.hub.get_dir()/checkpoints) or "clip" (~/.cache/clip).
    cache: str
    #: The SHA-256 the URL names (OpenAI's CLIP files), checked after a download.
    sha256: str = ""

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def cached(self) -> Path:
        if self.cache == "clip":
            return Path.home() / ".cache" / "clip" / self.file_name
        import torch

        return Path(torch.hub.get_dir()) / "checkpoints" / self.file_name


def given_paths() -> dict[str, str]:
    """--feature-weights as the environment holds it (JSON, since a path may hold any
    character): {extractor or "": absolute path}."""
    text = os.environ.get(FEATURE_WEIGHTS_ENV, "")
    try:
        given = json.loads(text) if text else {}
    except json.JSONDecodeError:
        given = None
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise GanbenchError(
            f"${FEATURE_WEIGHTS_ENV}: not what --feature-weights sets (a JSON object of "
            "extractor -> path); unset it and pass --feature-weights"
        )
    return given


def locate(extractor: str, weights: WeightsFile, explicit: str = "") -> Path:
    """The weights file of `extractor`, in the order of the module docstring."""
    given = given_paths()
    path = explicit or given.get(extractor) or given.get("")
    if path:
        if not Path(path).is_file():
            raise GanbenchError(f"{path}: no such weights file for the {extractor} extractor")
        return Path(path)
    cached = weights.cached()
    if cached.is_file():
        return cached
    if downloads_allowed():
        return _download(weights, cached)
    raise GanbenchError(
        f"{extractor}: {weights.title} weights not found at {cached}; offline, pass "
        f'--feature-weights {extractor}=PATH (or weights = "PATH" in the suite\'s metric) '
        f"to a copy of {weights.url}, or run with --download where there is network"
    )


def _download(weights: WeightsFile, target: Path) -> Path:
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {weights.url} to {target}", file=sys.stderr)
    partial = target.with_name(target.name + ".partial")
    try:
        torch.hub.download_url_to_file(weights.url, str(partial), progress=True)
    except OSError as e:
        raise GanbenchError(
            f"could not download {weights.url} ({e}); copy the file to {target} by hand"
        ) from None
    if weights.sha256 and file_digest(partial, "sha256") != weights.sha256:
        partial.unlink()
        raise GanbenchError(f"{weights.url}: the download's SHA-256 is not {weights.sha256}")
    partial.replace(target)
    return target


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a file ("sha1", "sha256"), read in blocks: weights are gigabytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def parameters_sha1(state: dict) -> str:
    """A fingerprint of a network's weights as loaded (names, shapes and float32 values),
    whatever file format held them: two measurements are comparable exactly when it
    agrees, as the Inception's pool3 SHA-1 is for FID."""
    digest = hashlib.sha1()
    for name in sorted(state):
        tensor = state[name].detach().float().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()
