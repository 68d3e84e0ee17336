"""What the ViT feature extractors (DINOv2, CLIP) share: the network from timm, its
weights from a file, and the resize through PIL that their reference code does.

timm (`pip install -e '.[vit]'`) builds both architectures from one well-kept
implementation with no further dependency beyond huggingface_hub and safetensors, and its
converters read the reference checkpoints (DINOv2's `*_pretrain.pth`, OpenAI's CLIP
TorchScript archives, open_clip's and timm's own files). Where timm would deviate from
the reference, this module does the reference's step itself (dinov2.py: the position
embedding's interpolation; clip.py: the QuickGELU variant)."""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.features.base import ImageList, each_resized
from ganbench.features.torchscript_tensors import is_torchscript, read_tensors
from ganbench.features.weights import parameters_sha1
from ganbench.formatting import say
from ganbench.untrusted import check_archive

VIT_HINT = "pip install 'ganbench[vit]' (timm)"


def timm_model(architecture: str, **kwargs) -> torch.nn.Module:
    """A timm architecture with random weights, in eval mode."""
    try:
        import timm
    except ImportError:
        raise GanbenchError(f"the ViT extractors need timm: {VIT_HINT}") from None
    return timm.create_model(architecture, pretrained=False, **kwargs).eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors, read as data (docs/security.md): a state dict (.pth, .bin,
    .pt) through torch.load(weights_only=True), a safetensors file, or the tensors of a
    TorchScript archive such as OpenAI's CLIP .pt files, read without running its code.
    Anything else is a one-line GanbenchError naming the file."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        elif is_torchscript(path):
            state = read_tensors(path)
        else:
            check_archive(path)  # nothing inflates before torch.load reads it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip, safetensors and torch errors alike: data, not ours
        why = " ".join(str(e).split())[:160] or type(e).__name__
        raise GanbenchError(
            f"{path}: not a weights file ganbench can read as data ({why}); give a state dict "
            "(torch.save(model.state_dict(), PATH)), a .safetensors file or OpenAI's CLIP .pt"
        ) from None
    for wrapper in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise GanbenchError(
            f"{path}: holds a {type(state).__name__}, not a state dict of named tensors; save "
            "one with torch.save(model.state_dict(), PATH)"
        )
    tensors = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise GanbenchError(
            f"{path}: holds no named tensors; save a network's with "
            "torch.save(model.state_dict(), PATH)"
        )
    return tensors


def load_weights(
    model: torch.nn.Module,
    path: Path,
    title: str,
    convert: Callable[[dict, torch.nn.Module], dict],
    state: dict | None = None,
) -> str:
    """Loads `path` (its tensors, when already read: `state`) into `model` through
    `convert` (reference names -> timm's), strictly: a file of another architecture is an
    error naming what did not fit. Returns the weights' fingerprint (features/weights.py)."""
    state = read_state_dict(path) if state is None else state
    try:
        result = model.load_state_dict(convert(state, model), strict=False)
    except Exception as e:  # a tensor of another shape: another architecture's file
        why = _first_mismatch(str(e), title) or " ".join(str(e).split())[:200] or type(e).__name__
        raise GanbenchError(
            f"{path}: not {title} weights ({why}); give the file of this extractor's "
            "architecture (ganbench ls lists the extractors)"
        ) from None
    wrong = [f"missing {k}" for k in result.missing_keys] + [
        f"unexpected {k}" for k in result.unexpected_keys
    ]
    if wrong:
        raise GanbenchError(
            f"{path}: not {title} weights ({', '.join(wrong[:3])}"
            f"{f' and {len(wrong) - 3} more' if len(wrong) > 3 else ''})"
        )
    broken = [n for n, t in model.state_dict().items() if not torch.isfinite(t).all()]
    if broken:
        raise GanbenchError(
            f"{path}: {len(broken)} of its {title} tensors hold NaN or infinite values "
            f"({', '.join(broken[:3])}); the file is damaged, download it again"
        )
    return parameters_sha1(model.state_dict())


SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\((\[[^\]]*\])\) from "
    r"checkpoint, the shape in current model is torch\.Size\((\[[^\]]*\])\)"
)


def _first_mismatch(error: str, title: str) -> str:
    """torch's size-mismatch error, in a few words: `cls_token is [1, 1, 768] in the file,
    [1, 1, 384] in DINOv2 ViT-S/14` (and how many more), or '' for another error."""
    found = SIZE_MISMATCH.findall(error)
    if not found:
        return ""
    name, theirs, ours = found[0]
    more = f", and {len(found) - 1} more tensors" if len(found) > 1 else ""
    return f"{name} is {theirs} in the file, {ours} in {title}{more}"


@dataclass(frozen=True)
class Network:
    """A reference network as timm builds it, and how its checkpoints' names become
    timm's (`convert(state, model)`)."""

    title: str  # "DINOv2 ViT-L/14", for messages
    architecture: str  # timm's name
    options: tuple[tuple[str, Any], ...]  # timm.create_model's keyword arguments
    convert: Callable[[dict, torch.nn.Module], dict]

    def build(self) -> torch.nn.Module:
        return timm_model(self.architecture, **dict(self.options))


@functools.cache
def loaded_network(network: Network, path: Path, device: str) -> tuple[torch.nn.Module, str]:
    """The network with `path`'s weights on `device`, and their fingerprint: once per
    file and device, however many metrics use it."""
    say(f"ganbench: loading {network.title} from {path}", file=sys.stderr)
    state = read_state_dict(path)  # a file of no weights is refused before a network is built
    model = network.build()
    fingerprint = load_weights(model, path, network.title, network.convert, state)
    return model.to(device), fingerprint


def pil_resized(images: torch.Tensor, size: int, crop_square: bool) -> torch.Tensor:
    """uint8 images (N, C, H, W) as the references read files: a PIL RGB image (grey
    replicated to 3 channels), centre-cropped to a square when `crop_square`, resized to
    size x size by PIL's bicubic filter (antialiased when shrinking) in 8 bits; returned
    as float32 (N, 3, size, size) in [0, 255] on the images' device."""
    from PIL import Image

    arrays = images.detach().cpu().numpy()
    out = np.empty((arrays.shape[0], size, size, 3), dtype=np.uint8)
    for i, array in enumerate(arrays):
        if array.shape[0] == 1:
            image = Image.fromarray(array[0], mode="L").convert("RGB")
        else:
            image = Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)), mode="RGB")
        if crop_square:
            w, h = image.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            image = image.crop((left, top, left + side, top + side))
        out[i] = np.asarray(image.resize((size, size), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().to(images.device)


def normalised(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """[0, 255] float32 -> x / 255, then (x - mean) / std per channel, in float32."""
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device)[:, None, None]
    return (x / 255 - mean_t) / std_t


class ViTFeatures:
    """Features of uint8 images of any size from a ViT: `preprocess` (uint8 -> the
    network's input), the network, then `finish` on its output."""

    has_classifier = False

    def __init__(
        self,
        name: str,
        dim: int,
        network: torch.nn.Module,
        preprocess: Callable[[torch.Tensor], torch.Tensor],
        settings: dict,
        finish: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
    ) -> None:
        self.name, self.dim, self.net = name, dim, network
        self.device = next(network.parameters()).device
        self.preprocess, self.finish = preprocess, finish
        self.settings = settings

    def __call__(self, images: torch.Tensor | ImageList) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"extractors take uint8 images, got {images.dtype}")
        return self.finish(self.net(each_resized(self.preprocess, images.to(self.device))))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        raise GanbenchError(f"the {self.name} extractor has no classifier")

    logits = head

    def classifier_sha1(self) -> str:
        raise GanbenchError(f"the {self.name} extractor has no classifier")
