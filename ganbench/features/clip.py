"""OpenAI CLIP image embeddings as google-research/cmmd computes them, for CMMD.

Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision"; Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric
for Image Generation" (google-research/google-research, cmmd/) measure CMMD on CLIP
ViT-L/14 at 336 px.

What cmmd does, and this module with it (file and line in google-research/cmmd):

- io_util.py:38-46 (_center_crop_and_resize, called by _read_image:49-57 with the model's
  input size): the PIL image is centre-cropped to a square and resized to 336 x 336 by
  PIL's bicubic filter in 8 bits ("performs anti-aliasing as well");
- io_util.py (_get_img_generator_fn): a grey image is tiled to three channels after the
  resize; compute_embeddings_for_dir divides by 255;
- embedding.py:26-35 (_clip_preprocess): `jax.image.resize` to 336 x 336, bicubic (the
  identity on an image already 336 x 336), then scenic's clip.normalize_image,
  (x - mean) / std with CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std
  (0.26862954, 0.26130258, 0.27577711) (scenic/projects/baselines/clip/model.py);
- embedding.py:57-59 (ClipEmbeddingModel.embed): the image embedding of scenic's CLIP,
  whose encode_image (scenic/projects/baselines/clip/layers.py) L2-normalises it by
  default: the class token after ln_post, times the projection, over its norm (768-d
  for ViT-L/14).

The network is timm's `vit_*_clip_quickgelu_*`: OpenAI's CLIP uses QuickGELU, and timm's
plain `vit_*_clip_*` with the same weights (GELU) gives other features. Weights are
OpenAI's files (the TorchScript .pt that `clip.load` and scenic download, stored in
float16, computed here in float32 as scenic does), or open_clip's or timm's copies.
"""

from __future__ import annotations

import functools

import torch

from ganbench.features.vit import Network, ViTFeatures, loaded_network, normalised, pil_resized
from ganbench.features.weights import WeightsFile, locate
from ganbench.registry import EXTRACTORS

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
OPENAI = "https://openaipublic.azureedge.net/clip/models"

#: extractor -> (timm architecture, input size, title, embedding dimension, OpenAI file)
ARCHITECTURES = {
    "clip-vit-b32": (
        "vit_base_patch32_clip_quickgelu_224",
        224,
        "CLIP ViT-B/32",
        512,
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    ),
    "clip-vit-l14-336": (
        "vit_large_patch14_clip_quickgelu_336",
        336,
        "CLIP ViT-L/14@336px",
        768,
        "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
    ),
}


def weights_file(name: str) -> WeightsFile:
    """OpenAI's release, as clip.load and scenic download it (the URL names its SHA-256)."""
    *_, title, _, path = ARCHITECTURES[name]
    return WeightsFile(f"{title} (OpenAI)", f"{OPENAI}/{path}", "clip", path.split("/")[0])


def from_reference(state: dict, model: torch.nn.Module) -> dict:
    """OpenAI's or open_clip's names (visual.*) in timm's: timm's own converter."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    return checkpoint_filter_fn(state, model)


def network(name: str) -> Network:
    architecture, _, title, dim, _ = ARCHITECTURES[name]
    return Network(title, architecture, (("num_classes", dim),), from_reference)


def unit_length(embeddings: torch.Tensor) -> torch.Tensor:
    return embeddings / embeddings.norm(dim=-1, keepdim=True)


def preprocess(images: torch.Tensor, size: int) -> torch.Tensor:
    """cmmd's: PIL RGB, centre crop, bicubic to size x size, / 255, CLIP normalisation."""
    return normalised(pil_resized(images, size, crop_square=True), CLIP_MEAN, CLIP_STD)


def extractor(name: str, device: str, weights: str) -> ViTFeatures:
    _, size, _, dim, _ = ARCHITECTURES[name]
    net, fingerprint = loaded_network(
        network(name), locate(name, weights_file(name), weights), device
    )

    settings = {
        "extractor": name,
        "weights": fingerprint,
        "layer": f"image embedding, L2-normalised ({dim})",
        "resize": f"pil-bicubic {size} centre crop (cmmd)",
        "input": "(x / 255 - CLIP mean) / CLIP std",
    }
    return ViTFeatures(
        name, dim, net, functools.partial(preprocess, size=size), settings, finish=unit_length
    )


def _meta(name: str) -> dict:
    return {"weights_file": weights_file(name).__dict__}


@EXTRACTORS.register("clip-vit-b32", **_meta("clip-vit-b32"))
def clip_vit_b32(*, device: str = "cpu", weights: str = "") -> ViTFeatures:
    """OpenAI CLIP ViT-B/32 image embeddings (512-d, unit length), preprocessed as cmmd
    does; needs timm and the weights (--feature-weights or --download)."""
    return extractor("clip-vit-b32", device, weights)


@EXTRACTORS.register("clip-vit-l14-336", **_meta("clip-vit-l14-336"))
def clip_vit_l14_336(*, device: str = "cpu", weights: str = "") -> ViTFeatures:
    """OpenAI CLIP ViT-L/14@336px image embeddings (768-d, unit length), CMMD's space as
    cmmd computes it; needs timm and the weights (--feature-weights or --download)."""
    return extractor("clip-vit-l14-336", device, weights)
