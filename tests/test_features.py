"""Feature extractors, the statistics cache, and FID through the suite-metric path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.images import ImageDataset, Split
from ganbench.data.mnist import mnist
from ganbench.features import inception as inception_module
from ganbench.features.cache import cached_tensors
from ganbench.features.inception import tf_legacy_resize
from ganbench.features.mnist_classifier import accuracy, load_classifier
from ganbench.metrics.base import EvalContext
from ganbench.registry import METRICS
from ganbench.training.gan import GAN
from tests.helpers import Replay, write_pngs


@pytest.mark.e2e  # accuracy on thousands of real images: the full tier
def test_mnist_classifier_reaches_99_percent_on_the_real_test_split():
    data = mnist()
    assert accuracy(load_classifier(), data.test.images, data.test.labels) >= 0.99


def nvlabs_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Independent formulation (NVlabs StyleGAN metrics): an affine grid shifted so that
    grid_sample reproduces TF's legacy ResizeBilinear."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=torch.float64)
    theta[0, 2] += 1 / w - 1 / size
    theta[1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(
        theta.unsqueeze(0).repeat(n, 1, 1), [n, c, size, size], align_corners=False
    )
    return F.grid_sample(
        x.double(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )


@pytest.mark.parametrize("size_in", [28, 32, 64])
def test_tf_legacy_resize_matches_the_nvlabs_formulation(size_in):
    x = torch.rand(2, 3, size_in, size_in, generator=torch.Generator().manual_seed(0)) * 255
    ours = tf_legacy_resize(x.double(), 299)
    # 1e-6 of the 0-255 range: both are float64; they differ only in rounding order.
    torch.testing.assert_close(ours, nvlabs_resize(x, 299), atol=1e-6 * 255, rtol=0)


def test_tf_legacy_resize_samples_exact_pixels_when_downscaling_by_two():
    x = torch.arange(64.0).view(1, 1, 8, 8)
    assert torch.equal(tf_legacy_resize(x, 4), x[:, :, ::2, ::2])


def test_inception_features_offline():
    extractor = inception_module.inception()
    gray = torch.randint(
        0, 256, (3, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        features = extractor(gray)
        tiled = extractor(gray.expand(-1, 3, -1, -1).contiguous())
    assert features.shape == (3, 2048) and features.min() >= 0  # pool3 follows a ReLU
    torch.testing.assert_close(features, tiled)  # grayscale is tiled to RGB
    assert extractor.settings["weights"] == "tf-inception-2015-12-05"


def test_stats_cache_reuses_only_the_same_key(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"mu": torch.ones(2)}

    assert torch.equal(cached_tensors({"n": 1}, compute)["mu"], torch.ones(2))
    cached_tensors({"n": 1}, compute)
    assert len(calls) == 1
    cached_tensors({"n": 2}, compute)
    assert len(calls) == 2
    for path in (tmp_path / "stats").iterdir():
        path.write_bytes(b"damaged")
    cached_tensors({"n": 1}, compute)
    assert len(calls) == 3  # a damaged entry is recomputed, not trusted
    monkeypatch.setattr("ganbench.features.cache.CACHE_FORMAT", 3)
    cached_tensors({"n": 1}, compute)
    assert len(calls) == 4  # an entry another cache format wrote is not reused


@pytest.mark.e2e  # accuracy on thousands of real images: the full tier
def test_fid_mnist_of_the_test_split_against_itself_is_zero_and_differs_from_train():
    data = mnist()
    small = ImageDataset(
        "mnist",
        Split(data.train.images[:2000], data.train.labels[:2000]),
        Split(data.test.images[:2000], data.test.labels[:2000]),
        "test",
    )
    measure = METRICS.get("fid-mnist").factory(samples=2000)

    def fid_of(images):
        gan = GAN(Replay(images), nn.Identity(), latent_dim=1, lr_g=0, lr_d=0)
        return measure(EvalContext(gan, small, None, seed=0))["fid_mnist"]

    same = fid_of(small.test.images)
    noise = torch.randint(0, 256, (2000, 1, 28, 28), dtype=torch.uint8)
    noise_fid = fid_of(noise).value
    # Identical statistics: zero up to float64 rounding (1e-9 of the scale of the distances).
    assert same.value == pytest.approx(0, abs=1e-9 * noise_fid)
    assert (
        same.settings["extractor"] == "mnist-classifier" and same.settings["real_samples"] == 2000
    )
    # Train and test images of real MNIST are close; uniform noise is far.
    assert 0 < fid_of(small.train.images).value < noise_fid / 10


def test_fid_cli_on_folders_and_saved_statistics(tmp_path, capsys):
    from ganbench.cli import main

    data = mnist()
    write_pngs(tmp_path / "a", data.test.images[:300])
    write_pngs(tmp_path / "b", data.train.images[:300])
    args = ["--extractor", "mnist-classifier", "--device", "cpu"]
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "a"), *args]) == 0
    assert capsys.readouterr().out.strip() == "FID: 0.000000"
    assert (
        main(
            [
                "fid",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                *args,
                "--save-stats",
                str(tmp_path / "a.npz"),
            ]
        )
        == 0
    )
    between = capsys.readouterr().out
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b"), *args]) == 0
    assert capsys.readouterr().out == between  # PNG is lossless and the stats round-trip


def test_fid_cli_errors_name_the_file(tmp_path, capsys):
    from ganbench.cli import main

    (tmp_path / "empty").mkdir()
    assert (
        main(
            [
                "fid",
                str(tmp_path / "empty"),
                str(tmp_path / "empty"),
                "--extractor",
                "mnist-classifier",
            ]
        )
        == 2
    )
    assert "empty: no images" in capsys.readouterr().err
    write_pngs(
        tmp_path / "mixed",
        [torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, 32, 32, dtype=torch.uint8)],
    )
    assert (
        main(
            [
                "fid",
                str(tmp_path / "mixed"),
                "--extractor",
                "mnist-classifier",
                "--save-stats",
                str(tmp_path / "mixed.npz"),
            ]
        )
        == 2
    )
    # Images of several sizes: each resized by an extractor that resizes (test_api.py); the
    # MNIST classifier takes 28x28 only, as its reference does.
    assert (
        "mixed: mnist-classifier features need 1x28x28 images, and these differ in size"
        in capsys.readouterr().err
    )
    assert main(["fid", str(tmp_path / "empty")]) == 2
    assert "give PATH_A PATH_B, or one PATH with --save-stats" in capsys.readouterr().err


def test_fid_on_fewer_images_than_feature_dimensions_carries_a_caveat(tmp_path, capsys):
    """issue 34, smaller: FID on 2-20 images printed a number and nothing else."""
    from ganbench.cli import main

    data = mnist()
    write_pngs(tmp_path / "a", data.test.images[:20])
    write_pngs(tmp_path / "b", data.train.images[:200])
    args = ["--extractor", "mnist-classifier", "--device", "cpu"]
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "b"), *args]) == 0
    err = capsys.readouterr().err
    assert f"note: {tmp_path / 'a'}: FID from 20 images, no more than the features' 128" in err
    assert f"note: {tmp_path / 'b'}" not in err  # 200 images: more than 128 dimensions


def test_fid_checks_every_input_before_embedding_any(tmp_path, capsys, monkeypatch):
    """issue 34 #18: `ganbench fid A nope` embedded all of A before saying that nope does
    not exist; a .npz without mu said "field 'mu is not a file in the archive' missing"."""
    import numpy as np

    import ganbench.metrics.features
    from ganbench.cli import main

    def no_extractor(*args, **kwargs):
        raise AssertionError("an extractor was built before the inputs were checked")

    monkeypatch.setattr(ganbench.metrics.features, "extractor_per_device", no_extractor)
    write_pngs(tmp_path / "a", [torch.zeros(1, 28, 28, dtype=torch.uint8)] * 2)
    for missing in ("nope", "nope.npz"):
        assert main(["fid", str(tmp_path / "a"), str(tmp_path / missing)]) == 2
        assert f"{missing}: no such file" in capsys.readouterr().err
    np.savez(tmp_path / "mu-less.npz", sigma=np.eye(2))
    assert main(["fid", str(tmp_path / "mu-less.npz"), _npz(tmp_path / "g.npz", *GOOD)]) == 2
    assert "mu-less.npz: no array 'mu' (it holds 'sigma'); expected arrays 'mu' and 'sigma'" in (
        capsys.readouterr().err
    )


def _npz(path, mu, sigma):
    import numpy as np

    np.savez(path, mu=np.asarray(mu), sigma=np.asarray(sigma))
    return str(path)


GOOD = ([0.0, 1.0], [[1.0, 0.2], [0.2, 2.0]])
BAD_STATISTICS = [
    (([0.0, 1.0, 2.0], GOOD[1]), "sigma must be 3x3 to match mu (3,), got shape (2, 2)"),
    ((GOOD[0], [[float("nan"), 0], [0, 1]]), "sigma holds NaN or infinite values"),
    (([float("inf"), 0.0], GOOD[1]), "mu holds NaN or infinite values"),
    ((3.0, 1.0), "mu must be a non-empty vector, got shape ()"),
    ((["a", "b"], GOOD[1]), "mu and sigma must be numeric arrays"),
    (([], [[]]), "mu must be a non-empty vector, got shape (0,)"),
    ((GOOD[0], [[1.0, 0.5], [0.0, 1.0]]), "sigma is not symmetric"),
    ((GOOD[0], [[-1.0, 0.0], [0.0, -2.0]]), "sigma is not positive semi-definite"),
]


@pytest.mark.parametrize(("arrays", "message"), BAD_STATISTICS, ids=[m for _, m in BAD_STATISTICS])
def test_fid_refuses_statistics_that_are_not_a_gaussian(tmp_path, capsys, arrays, message):
    """issue 14 #9: these gave a traceback, `FID: nan` or `FID: 0.000000` with exit 0."""
    from ganbench.cli import main

    bad = _npz(tmp_path / "bad.npz", *arrays)
    good = _npz(tmp_path / "good.npz", *GOOD)
    assert main(["fid", bad, good]) == 2
    captured = capsys.readouterr()
    assert "FID" not in captured.out and f"{bad}: {message}" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_fid_input_handling(tmp_path, capsys, monkeypatch):
    """issue 14 #9: one image, bad batch sizes, a decompression bomb, mismatched dimensions,
    --save-stats into a missing folder and without the .npz suffix."""
    from PIL import Image

    from ganbench.cli import main

    args = ["--extractor", "mnist-classifier", "--device", "cpu"]
    write_pngs(tmp_path / "one", [torch.zeros(1, 28, 28, dtype=torch.uint8)])
    good = _npz(tmp_path / "good.npz", *GOOD)
    assert main(["fid", str(tmp_path / "one"), good, *args]) == 2
    assert "one: 1 image; a covariance needs at least 2" in capsys.readouterr().err
    for size in ("0", "-3", "x"):
        with pytest.raises(SystemExit) as exit_:
            main(["fid", good, good, "--batch-size", size])
        assert exit_.value.code == 2
        assert f"{size!r}: expected a positive integer" in capsys.readouterr().err
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    write_pngs(tmp_path / "bomb", [torch.zeros(1, 28, 28, dtype=torch.uint8)] * 2)
    assert main(["fid", str(tmp_path / "bomb"), good, *args]) == 2
    assert "0000.png: image too large to decode safely" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)

    images = mnist().test.images[:20]
    write_pngs(tmp_path / "digits", images)
    out = tmp_path / "missing" / "folder" / "digits"
    assert main(["fid", str(tmp_path / "digits"), "--save-stats", str(out), *args]) == 0
    assert f"written to {out}.npz" in capsys.readouterr().err
    three = _npz(tmp_path / "three.npz", [0.0, 0.0, 0.0], torch.eye(3).numpy())
    assert main(["fid", f"{out}.npz", three]) == 2
    err = capsys.readouterr().err
    assert "-d features" in err and "same --extractor" in err


def test_embedding_images_shows_progress_with_rate_and_time_left(capsys):
    """issue 14 #17: Inception FID on 10k + 10k images printed nothing for minutes."""
    from ganbench.features.base import batched

    images = torch.zeros(30, 1, 2, 2, dtype=torch.uint8)
    features = batched(lambda x: x.float().flatten(1), images, 10, torch.device("cpu"), "embed")
    assert features.shape == (30, 4)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["10/30", "20/30", "30/30"]
    assert "images/s" in lines[0] and "s left" in lines[0] and "images/s" in lines[-1]
