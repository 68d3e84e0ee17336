"""The DINOv2 and CLIP feature spaces (fd, cmmd; kid on DINOv2) against their references,
with random weights from a fixed seed (no weights can be downloaded here).

The references are re-implemented here from their cited source: dgm-eval's and cmmd's
preprocessing (to 1e-6), DINOv2's and OpenAI CLIP's forward passes (to float rounding
through 12 blocks), clip-mmd's MMD and pytorch-fid's Fréchet distance (to 1e-6)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

pytest.importorskip("timm")

from ganbench.cli import main
from ganbench.features import clip, dinov2
from ganbench.metrics.cmmd import cmmd
from ganbench.metrics.fid import frechet_distance, gaussian_stats
from ganbench.registry import EXTRACTORS

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 20, 30)]  # MNIST, CIFAR-10, not square


def some_images(shape: tuple[int, int, int], n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)


def pil(array: np.ndarray) -> Image.Image:
    if array.shape[0] == 1:
        return Image.fromarray(array[0], mode="L")
    return Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)), mode="RGB")


# --- preprocessing ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_dinov2_input_is_dgm_evals(shape):
    """dgm_eval/dataloaders.py: Image.open(...).convert('RGB'); models/dinov2.py transform:
    Resize((224, 224), BICUBIC), ToTensor, Normalize(ImageNet)."""
    from torchvision import transforms as T

    images = some_images(shape)
    resize = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor()])
    normalize = T.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))
    reference = torch.stack([normalize(resize(pil(a).convert("RGB"))) for a in images.numpy()])
    ours = dinov2.preprocess(images)
    assert ours.shape == reference.shape == (3, 3, 224, 224)
    assert (ours - reference).abs().max() <= 1e-6


@pytest.mark.parametrize("shape", SHAPES)
def test_clip_input_is_cmmds(shape):
    """cmmd/io_util.py: centre crop to a square, PIL bicubic to 336 in 8 bits, grey tiled
    to 3 channels, / 255; embedding.py: (x - mean) / std in JAX's float32."""
    mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
    reference = []
    for array in some_images(shape).numpy():
        image = pil(array)
        w, h = image.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((336, 336), Image.BICUBIC)
        x = np.asarray(image).astype(np.float32)
        if x.ndim == 2:
            x = np.tile(x[..., np.newaxis], (1, 1, 3))
        reference.append(torch.from_numpy((x / 255.0 - mean) / std).permute(2, 0, 1))
    ours = clip.preprocess(some_images(shape), 336)
    assert (ours - torch.stack(reference)).abs().max() <= 1e-6


# --- the networks -----------------------------------------------------------------------------


def dinov2_forward(state: dict, x: torch.Tensor, heads: int) -> torch.Tensor:
    """facebookresearch/dinov2's DinoVisionTransformer.forward (vision_transformer.py, its
    layers' Attention, Mlp, LayerScale) on a hub checkpoint's names: x_norm_clstoken."""
    batch, dim = x.shape[0], state["cls_token"].shape[-1]
    t = F.conv2d(x, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=14)
    t = torch.cat([state["cls_token"].expand(batch, -1, -1), t.flatten(2).transpose(1, 2)], 1)
    pos = state["pos_embed"]
    side = int(math.sqrt(pos.shape[1] - 1))
    w0 = x.shape[-1] // 14 + 0.1  # interpolate_pos_encoding's offset
    patch = F.interpolate(
        pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2),
        scale_factor=(w0 / side, w0 / side),
        mode="bicubic",
    )
    t = t + torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, dim)], 1)
    blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    for i in range(blocks):
        p = lambda name, i=i: state[f"blocks.{i}.{name}"]  # noqa: E731
        h = F.layer_norm(t, (dim,), p("norm1.weight"), p("norm1.bias"), eps=1e-6)
        qkv = F.linear(h, p("attn.qkv.weight"), p("attn.qkv.bias"))
        q, k, v = qkv.reshape(batch, -1, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        attn = ((q * (dim // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v
        attn = attn.transpose(1, 2).reshape(batch, -1, dim)
        t = t + p("ls1.gamma") * F.linear(attn, p("attn.proj.weight"), p("attn.proj.bias"))
        h = F.layer_norm(t, (dim,), p("norm2.weight"), p("norm2.bias"), eps=1e-6)
        h = F.linear(
            F.gelu(F.linear(h, p("mlp.fc1.weight"), p("mlp.fc1.bias"))),
            p("mlp.fc2.weight"),
            p("mlp.fc2.bias"),
        )
        t = t + p("ls2.gamma") * h
    return F.layer_norm(t, (dim,), state["norm.weight"], state["norm.bias"], eps=1e-6)[:, 0]


def clip_forward(state: dict, x: torch.Tensor, heads: int, patch: int) -> torch.Tensor:
    """openai/CLIP's VisionTransformer.forward (clip/model.py: QuickGELU, nn.MultiheadAttention,
    ln_post on the class token, @ proj) on OpenAI's names, then scenic's L2 normalisation."""
    v = lambda name: state[f"visual.{name}"]  # noqa: E731
    width = v("class_embedding").shape[0]
    t = F.conv2d(x, v("conv1.weight"), stride=patch).flatten(2).transpose(1, 2)
    t = torch.cat([v("class_embedding").expand(x.shape[0], 1, -1), t], 1) + v(
        "positional_embedding"
    )
    t = F.layer_norm(t, (width,), v("ln_pre.weight"), v("ln_pre.bias")).transpose(0, 1)
    blocks = len({k.split(".")[3] for k in state if k.startswith("visual.transformer.resblocks.")})
    for i in range(blocks):
        p = lambda name, i=i: v(f"transformer.resblocks.{i}.{name}")  # noqa: E731
        h = F.layer_norm(t, (width,), p("ln_1.weight"), p("ln_1.bias"))
        t = t + F.multi_head_attention_forward(
            h, h, h, width, heads, p("attn.in_proj_weight"), p("attn.in_proj_bias"),
            None, None, False, 0.0, p("attn.out_proj.weight"), p("attn.out_proj.bias"),
            need_weights=False,
        )[0]  # fmt: skip
        h = F.layer_norm(t, (width,), p("ln_2.weight"), p("ln_2.bias"))
        h = F.linear(h, p("mlp.c_fc.weight"), p("mlp.c_fc.bias"))
        t = t + F.linear(h * torch.sigmoid(1.702 * h), p("mlp.c_proj.weight"), p("mlp.c_proj.bias"))
    out = F.layer_norm(t[0], (width,), v("ln_post.weight"), v("ln_post.bias")) @ v("proj")
    return out / out.norm(dim=-1, keepdim=True)


def random_dinov2_checkpoint(seed: int = 0) -> dict:
    """A DINOv2 ViT-S/14 hub checkpoint (*_pretrain.pth) of random weights: 518 x 518
    position embeddings (37 x 37), a mask token, LayerScale gammas far from their 1e-5."""
    torch.manual_seed(seed)
    state = dinov2.network("dinov2-vit-s14").build().state_dict()
    state["pos_embed"] = torch.randn(1, 37 * 37 + 1, 384) * 0.1
    state["mask_token"] = torch.zeros(1, 384)
    for key in [k for k in state if k.endswith(".gamma")]:
        state[key] = torch.rand(384) + 0.5
    return state


def random_clip_checkpoint(seed: int = 0) -> dict:
    """An OpenAI CLIP ViT-B/32 checkpoint's visual tower (its names), random, plus a text key."""
    g = torch.Generator().manual_seed(seed)
    width, layers, patch, grid, out = 768, 12, 32, 7, 512

    def r(*shape, scale=0.02, centre=0.0):
        return centre + scale * torch.randn(*shape, generator=g)

    state = {
        "visual.conv1.weight": r(width, 3, patch, patch),
        "visual.class_embedding": r(width, scale=0.1),
        "visual.positional_embedding": r(grid * grid + 1, width, scale=0.1),
        "visual.proj": r(width, out, scale=0.05),
        "logit_scale": torch.tensor(4.6),
    }
    for ln in ("ln_pre", "ln_post"):
        state[f"visual.{ln}.weight"], state[f"visual.{ln}.bias"] = r(width, centre=1.0), r(width)
    for i in range(layers):
        p = f"visual.transformer.resblocks.{i}."
        for ln in ("ln_1", "ln_2"):
            state[f"{p}{ln}.weight"], state[f"{p}{ln}.bias"] = r(width, centre=1.0), r(width)
        state[p + "attn.in_proj_weight"], state[p + "attn.in_proj_bias"] = (
            r(3 * width, width),
            r(3 * width),
        )
        state[p + "attn.out_proj.weight"], state[p + "attn.out_proj.bias"] = (
            r(width, width),
            r(width),
        )
        state[p + "mlp.c_fc.weight"], state[p + "mlp.c_fc.bias"] = r(4 * width, width), r(4 * width)
        state[p + "mlp.c_proj.weight"], state[p + "mlp.c_proj.bias"] = r(width, 4 * width), r(width)
    return state


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vit-weights")
    files = {
        "dinov2-vit-s14": folder / "dinov2_vits14_pretrain.pth",
        "clip-vit-b32": folder / "ViT-B-32.pt",
    }
    states = {
        "dinov2-vit-s14": random_dinov2_checkpoint(),
        "clip-vit-b32": random_clip_checkpoint(),
    }
    for name, path in files.items():
        torch.save(states[name], path)
    return files, states


def test_dinov2_features_are_the_hub_models_cls_token(weight_files):
    """timm's ViT-S/14 with a hub checkpoint's weights gives dinov2's forward: the CLS token
    after the final norm, with the position embeddings interpolated as the hub does."""
    files, states = weight_files
    extractor = EXTRACTORS.get("dinov2-vit-s14").factory(weights=str(files["dinov2-vit-s14"]))
    images = some_images((1, 28, 28))
    with torch.inference_mode():
        ours = extractor(images)
        reference = dinov2_forward(states["dinov2-vit-s14"], dinov2.preprocess(images), heads=6)
    assert ours.shape == (3, extractor.dim) == (3, 384)
    assert (ours - reference).abs().max() <= 1e-4 * reference.abs().max()


def test_clip_features_are_openais_image_embedding(weight_files):
    """timm's QuickGELU ViT-B/32 with OpenAI's names gives OpenAI's forward, normalised."""
    files, states = weight_files
    extractor = EXTRACTORS.get("clip-vit-b32").factory(weights=str(files["clip-vit-b32"]))
    images = some_images((3, 32, 32))
    with torch.inference_mode():
        ours = extractor(images)
        reference = clip_forward(states["clip-vit-b32"], clip.preprocess(images, 224), 12, 32)
    assert ours.shape == (3, 512)
    assert torch.allclose(ours.norm(dim=1), torch.ones(3), atol=1e-6)
    assert (ours - reference).abs().max() <= 1e-5
    assert (
        extractor.settings["weights"]
        != EXTRACTORS.get("dinov2-vit-s14")
        .factory(weights=str(files["dinov2-vit-s14"]))
        .settings["weights"]
    )


def test_checkpoints_are_read_from_each_format_the_references_publish(tmp_path):
    """A state dict (DINOv2's .pth, open_clip's .bin), safetensors (timm's hub copies) and a
    TorchScript archive (OpenAI's CLIP .pt) give the same tensors; anything else is a
    one-line error naming the file."""
    from safetensors.torch import save_file

    from ganbench.errors import GanbenchError
    from ganbench.features.vit import read_state_dict

    module = torch.nn.Linear(3, 2)
    state = module.state_dict()
    torch.save(state, tmp_path / "a.pth")
    save_file(state, tmp_path / "a.safetensors")
    torch.jit.script(module).save(str(tmp_path / "a.pt"))
    for name in ("a.pth", "a.safetensors", "a.pt"):
        read = read_state_dict(tmp_path / name)
        assert read.keys() == state.keys() and all(torch.equal(read[k], state[k]) for k in state)
    (tmp_path / "b.pt").write_text("not a checkpoint")
    with pytest.raises(
        GanbenchError, match=r"b\.pt: not a weights file ganbench can read as data"
    ) as error:
        read_state_dict(tmp_path / "b.pt")
    assert "\n" not in str(error.value)


#: extractor -> (width, depth, heads, patch, input side, feature dimension, activation),
#: from dinov2's vit_small/base/large and scenic's CLIP CONFIGS (OpenAI's models).
ARCHITECTURES = {
    "dinov2-vit-s14": (384, 12, 6, 14, 224, 384, "GELU"),
    "dinov2-vit-b14": (768, 12, 12, 14, 224, 768, "GELU"),
    "dinov2-vit-l14": (1024, 24, 16, 14, 224, 1024, "GELU"),
    "clip-vit-b32": (768, 12, 12, 32, 224, 512, "QuickGELU"),
    "clip-vit-l14-336": (1024, 24, 16, 14, 336, 768, "QuickGELU"),
}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_architecture_is_the_references(name):
    """Built on the meta device (no memory, no weights): the reference's shape, and
    features of the right size from an input of the reference's size."""
    width, depth, heads, patch, side, dim, activation = ARCHITECTURES[name]
    module = dinov2 if name.startswith("dinov2") else clip
    with torch.device("meta"):
        net = module.network(name).build()
        out = net(torch.empty(2, 3, side, side))
    assert (net.embed_dim, len(net.blocks), net.blocks[0].attn.num_heads) == (width, depth, heads)
    assert net.patch_embed.patch_size == (patch, patch)
    assert net.pos_embed.shape[1] == (side // patch) ** 2 + 1
    assert type(net.blocks[0].mlp.act).__name__ == activation
    assert tuple(out.shape) == (2, dim)


def test_dinov2_position_embeddings_are_the_hubs_not_timms():
    """The hub interpolates 37x37 -> 16x16 with scale factor 16.1 / 37 and no antialiasing;
    timm's resample (antialiased, to size 16) gives other values: the reason we do it."""
    from timm.layers import resample_abs_pos_embed

    pos = torch.randn(1, 37 * 37 + 1, 8)
    ours = dinov2.position_embeddings(pos, 16)
    hub = F.interpolate(
        pos[:, 1:].reshape(1, 37, 37, 8).permute(0, 3, 1, 2), scale_factor=16.1 / 37, mode="bicubic"
    )
    assert torch.equal(ours[:, 1:], hub.permute(0, 2, 3, 1).reshape(1, 256, 8))
    timms = resample_abs_pos_embed(pos, (16, 16), num_prefix_tokens=1)
    assert (timms - ours).abs().max() > 1e-2


# --- the distances ----------------------------------------------------------------------------


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def test_cmmd_equals_the_clip_mmd_packages(monkeypatch):
    calculation = pytest.importorskip("clip_mmd.calculation")
    g = torch.Generator().manual_seed(0)
    x = unit(torch.randn(300, 32, generator=g, dtype=torch.float64))
    y = unit(torch.randn(200, 32, generator=g, dtype=torch.float64) + 0.2)
    reference = float(calculation.mmd(x, y))
    assert cmmd(x, y) == pytest.approx(reference, abs=1e-6)
    monkeypatch.setattr("ganbench.metrics.cmmd.BLOCK_ROWS", 7)  # blocks change nothing
    assert cmmd(x, y) == pytest.approx(reference, abs=1e-6)


def test_unbiased_cmmd_is_the_u_statistic():
    """Mean kernel over distinct pairs within each sample, minus twice across, x 1000."""
    g = torch.Generator().manual_seed(1)
    x = unit(torch.randn(9, 4, generator=g, dtype=torch.float64))
    y = unit(torch.randn(7, 4, generator=g, dtype=torch.float64))

    def k(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / 200)

    def within(s):
        pairs = [(i, j) for i in range(len(s)) for j in range(len(s)) if i != j]
        return sum(k(s[i], s[j]) for i, j in pairs) / len(pairs)

    across = sum(k(a, b) for a in x for b in y) / (len(x) * len(y))
    expected = 1000 * (within(x) + within(y) - 2 * across)
    assert cmmd(x, y, estimator="unbiased") == pytest.approx(expected, rel=1e-9)
    assert cmmd(x, x) == pytest.approx(0.0, abs=1e-12)  # the biased one of identical sets


def test_fd_equals_pytorch_fids_frechet_distance():
    from pytorch_fid.fid_score import calculate_frechet_distance

    g = torch.Generator().manual_seed(2)
    real = torch.randn(500, 24, generator=g, dtype=torch.float64)
    fake = 1.3 * torch.randn(400, 24, generator=g, dtype=torch.float64) + 0.2
    reference = calculate_frechet_distance(
        *(a for s in (real, fake) for a in (s.numpy().mean(0), np.cov(s.numpy(), rowvar=False)))
    )
    assert frechet_distance(gaussian_stats(real), gaussian_stats(fake)) == pytest.approx(
        reference, rel=1e-6
    )


# --- offline, and a run ----------------------------------------------------------------------

SUITE = """
name = "vit-spaces"
version = 1
[[datasets]]
name = "mnist"
[[models]]
name = "dcgan"
[[metrics]]
name = "fd"
extractor = "dinov2-vit-s14"
samples = 12
weights = "{dino}"
[[metrics]]
name = "cmmd"
extractor = "clip-vit-b32"
samples = 12
[[metrics]]
name = "kid"
extractor = "dinov2-vit-s14"
samples = 12
subsets = 3
subset_size = 6
weights = "{dino}"
[budget]
steps = 2
batch_size = 8
seeds = [0]
"""


def test_without_weights_offline_a_command_and_a_run_stop_in_one_line(
    tmp_path, monkeypatch, capsys
):
    """No file given, none in the reference's cache, no --download: one line naming the
    file and how to get it, and the run stops before it makes a run folder."""
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.cache/clip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    assert main(["fid", "a", "a", "--extractor", "dinov2-vit-l14"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert "dinov2_vitl14_pretrain.pth" in error and "--feature-weights" in error
    (tmp_path / "suite.toml").write_text(SUITE.replace("{dino}", str(tmp_path / "none.pth")))
    assert main(["validate", "suite.toml"]) == 0  # validating needs no weights
    capsys.readouterr()
    assert main(["run", "suite.toml", "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        f"ganbench: error: {tmp_path / 'none.pth'}: no such weights file for the dinov2-vit-s14 extractor"
    ]
    assert not (tmp_path / "results").exists()


@pytest.mark.e2e
def test_a_suite_measures_fd_cmmd_and_kid_on_random_weights_passed_as_files(
    tmp_path, monkeypatch, weight_files
):
    files, _ = weight_files
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suite.toml").write_text(SUITE.replace("{dino}", str(files["dinov2-vit-s14"])))
    clip_weights = f"clip-vit-b32={files['clip-vit-b32']}"
    assert main(["run", "suite.toml", "--device", "cpu", "--feature-weights", clip_weights]) == 0
    (result,) = (tmp_path / "results" / "runs").glob("*/*/result.json")
    metrics = json.loads(result.read_text())["results"]["dcgan"]["mnist"]
    assert set(metrics) >= {"fd_dinov2_vit_s14", "cmmd", "kid"}
    assert metrics["fd_dinov2_vit_s14"]["mean"] > 0 and metrics["cmmd"]["mean"] > 0
    fd_settings, cmmd_settings = (
        metrics["fd_dinov2_vit_s14"]["settings"],
        metrics["cmmd"]["settings"],
    )
    assert fd_settings["extractor"] == "dinov2-vit-s14" and len(fd_settings["weights"]) == 40
    assert metrics["kid"]["settings"]["weights"] == fd_settings["weights"]
    assert (cmmd_settings["sigma"], cmmd_settings["scale"], cmmd_settings["estimator"]) == (
        10.0,
        1000.0,
        "biased",
    )


@pytest.mark.e2e
def test_fd_and_cmmd_of_folders_equal_the_metrics_on_their_features(
    tmp_path, monkeypatch, capsys, weight_files
):
    """`ganbench fid A B --extractor dinov2-vit-s14 --feature-weights W` and `ganbench cmmd
    A B`: the distances of the extractor's features of the images the folders hold."""
    from tests.helpers import write_pngs

    files, _ = weight_files
    real, fake = some_images((1, 28, 28), n=6, seed=3), some_images((1, 28, 28), n=5, seed=4)
    write_pngs(tmp_path / "real", real)
    write_pngs(tmp_path / "fake", fake)
    monkeypatch.chdir(tmp_path)
    dino = ["--extractor", "dinov2-vit-s14", "--feature-weights", str(files["dinov2-vit-s14"])]
    assert main(["fid", "real", "fake", *dino, "--device", "cpu"]) == 0
    fd_line = capsys.readouterr().out.strip()
    clip_weights = f"clip-vit-b32={files['clip-vit-b32']}"
    cmmd_args = ["--extractor", "clip-vit-b32", "--feature-weights", clip_weights]
    assert main(["cmmd", "real", "fake", *cmmd_args, "--device", "cpu"]) == 0
    cmmd_line = capsys.readouterr().out.strip()
    with torch.inference_mode():
        dino_net = EXTRACTORS.get("dinov2-vit-s14").factory(weights=str(files["dinov2-vit-s14"]))
        clip_net = EXTRACTORS.get("clip-vit-b32").factory(weights=str(files["clip-vit-b32"]))
        fd = frechet_distance(gaussian_stats(dino_net(real)), gaussian_stats(dino_net(fake)))
        expected_cmmd = cmmd(clip_net(real), clip_net(fake))
    assert fd_line == f"FD (dinov2-vit-s14): {fd:.6f}"
    assert cmmd_line == f"CMMD: {expected_cmmd:.6f}"
