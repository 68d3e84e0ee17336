"""DINOv2 ViT features as dgm-eval computes them, for FD_DINOv2.

Oquab et al. 2023, "DINOv2: Learning Robust Visual Features without Supervision"; Stein
et al. 2023, "Exposing flaws of generative model evaluation metrics and their unfair
treatment of diffusion models" (layer6ai-labs/dgm-eval) found that FD in DINOv2 ViT-L/14's
space ranks generators as human judges do, where Inception's does not.

What dgm-eval does, and this module with it (file and line in layer6ai-labs/dgm-eval as
stored at d57a6d2; dataloaders.py at 27b385f):

- dgm_eval/dataloaders.py:41-46 (ImagePathDataset.__getitem__): each file is opened as a
  PIL image and `.convert('RGB')`: grey replicated to three channels;
- dgm_eval/models/dinov2.py:46-59 (DINOv2Encoder.transform, clean_resize False, its
  default): torchvision `Resize((224, 224), BICUBIC)` on the PIL image, which is PIL's
  bicubic resize of the 8-bit image (antialiased when shrinking), `ToTensor()` (x / 255),
  `Normalize` with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225);
- dgm_eval/models/dinov2.py:43 loads `torch.hub.load('facebookresearch/dinov2',
  'dinov2_vitl14')`, whose forward (dinov2/models/vision_transformer.py, forward and
  forward_features) returns the CLS token after the final LayerNorm (`x_norm_clstoken`,
  1024-d for ViT-L/14); dgm_eval/representations.py:48-52 takes that output as it is;
- the hub model is built for 518 x 518 (37 x 37 patches); at 224 x 224 its
  `interpolate_pos_encoding` (vision_transformer.py at 027a9ac) resizes the patch position
  embeddings by bicubic interpolation with `scale_factor = (16 + 0.1) / 37`, without
  antialiasing. timm would resample them once at load with antialiasing, which gives
  other values, so `position_embeddings` below does the reference's interpolation.

The network is timm's `vit_*_patch14_dinov2` (the same blocks: LayerScale, LayerNorm eps
1e-6, exact GELU); its attention is torch's fused scaled_dot_product_attention where the
hub model uses xFormers' or the plain product, equal to float rounding (about 1e-6).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganbench.features.vit import Network, ViTFeatures, loaded_network, normalised, pil_resized
from ganbench.features.weights import WeightsFile, locate
from ganbench.registry import EXTRACTORS

SIZE = 224
PATCH = 14
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: dinov2's interpolate_pos_encoding adds this to the patch grid's side (its "historical
#: kludge" against rounding, kept for compatibility): the interpolation's scale factor.
INTERPOLATE_OFFSET = 0.1
BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"

#: extractor -> (timm architecture, dinov2 hub name, title, feature dimension)
ARCHITECTURES = {
    "dinov2-vit-s14": ("vit_small_patch14_dinov2", "dinov2_vits14", "DINOv2 ViT-S/14", 384),
    "dinov2-vit-b14": ("vit_base_patch14_dinov2", "dinov2_vitb14", "DINOv2 ViT-B/14", 768),
    "dinov2-vit-l14": ("vit_large_patch14_dinov2", "dinov2_vitl14", "DINOv2 ViT-L/14", 1024),
}


def weights_file(name: str) -> WeightsFile:
    """The checkpoint torch.hub.load('facebookresearch/dinov2', ...) downloads."""
    _, hub, title, _ = ARCHITECTURES[name]
    return WeightsFile(
        f"{title} (facebookresearch/dinov2)", f"{BASE_URL}/{hub}/{hub}_pretrain.pth", "torch-hub"
    )


def position_embeddings(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, 1 + M*M, D) position embeddings for a grid x grid patch input, as dinov2's
    interpolate_pos_encoding computes them: bicubic, scale factor (grid + 0.1) / M."""
    shape = tuple(pos_embed.shape)
    side = math.isqrt(max(shape[1] - 1, 0)) if len(shape) == 3 else 0
    if len(shape) != 3 or shape[0] != 1 or side < 1 or side * side + 1 != shape[1]:
        raise ValueError(f"pos_embed of shape {list(shape)}, not [1, 1 + n * n, width]")
    if pos_embed.shape[1] == grid * grid + 1:
        return pos_embed
    cls, patches = pos_embed[:, :1].float(), pos_embed[:, 1:].float()
    dim = patches.shape[2]
    scale = float((grid + INTERPOLATE_OFFSET) / side)
    resized = F.interpolate(
        patches.reshape(1, side, side, dim).permute(0, 3, 1, 2),
        scale_factor=(scale, scale),
        mode="bicubic",
    )
    if tuple(resized.shape[-2:]) != (grid, grid):
        raise ValueError(f"position embeddings of {side}x{side} do not resize to {grid}x{grid}")
    return torch.cat([cls, resized.permute(0, 2, 3, 1).reshape(1, -1, dim)], dim=1)


def from_reference(state: dict, model: torch.nn.Module) -> dict:
    """A DINOv2 checkpoint (the hub's *_pretrain.pth, or timm's) in timm's names, with
    the position embeddings interpolated for 224 x 224 as the hub model does."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    if "pos_embed" in state:
        state = {**state, "pos_embed": position_embeddings(state["pos_embed"], SIZE // PATCH)}
    return checkpoint_filter_fn(state, model)


def network(name: str) -> Network:
    architecture, _, title, _ = ARCHITECTURES[name]
    return Network(title, architecture, (("img_size", SIZE), ("num_classes", 0)), from_reference)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """dgm-eval's transform: PIL RGB, bicubic to 224 x 224, / 255, ImageNet normalisation."""
    return normalised(pil_resized(images, SIZE, crop_square=False), IMAGENET_MEAN, IMAGENET_STD)


def extractor(name: str, device: str, weights: str) -> ViTFeatures:
    net, fingerprint = loaded_network(
        network(name), locate(name, weights_file(name), weights), device
    )
    dim = ARCHITECTURES[name][3]
    settings = {
        "extractor": name,
        "weights": fingerprint,
        "layer": f"CLS token after the final norm ({dim})",
        "resize": f"pil-bicubic {SIZE} (dgm-eval)",
        "input": "(x / 255 - ImageNet mean) / ImageNet std",
    }
    return ViTFeatures(name, dim, net, preprocess, settings)


def _meta(name: str) -> dict:
    return {"weights_file": weights_file(name).__dict__}


@EXTRACTORS.register("dinov2-vit-s14", **_meta("dinov2-vit-s14"))
def dinov2_vit_s14(*, device: str = "cpu", weights: str = "") -> ViTFeatures:
    """DINOv2 ViT-S/14 CLS features (384-d) as dgm-eval computes them; needs timm and the
    weights (--feature-weights or --download)."""
    return extractor("dinov2-vit-s14", device, weights)


@EXTRACTORS.register("dinov2-vit-b14", **_meta("dinov2-vit-b14"))
def dinov2_vit_b14(*, device: str = "cpu", weights: str = "") -> ViTFeatures:
    """DINOv2 ViT-B/14 CLS features (768-d) as dgm-eval computes them; needs timm and the
    weights (--feature-weights or --download)."""
    return extractor("dinov2-vit-b14", device, weights)


@EXTRACTORS.register("dinov2-vit-l14", **_meta("dinov2-vit-l14"))
def dinov2_vit_l14(*, device: str = "cpu", weights: str = "") -> ViTFeatures:
    """DINOv2 ViT-L/14 CLS features (1024-d), dgm-eval's space for FD_DINOv2; needs timm
    and the weights (--feature-weights or --download)."""
    return extractor("dinov2-vit-l14", device, weights)
