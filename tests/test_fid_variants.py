"""FID as other implementations preprocess (pytorch-fid's, clean-fid's), and FID-infinity
(Chong & Forsyth 2020), each against an independent reference or a closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg
from torch import nn

from ganbench.cli import main
from ganbench.evaluate import evaluate_generator
from ganbench.features import inception as inception_module
from ganbench.metrics.fid import (
    GaussianStats,
    fid_infinity,
    frechet_distance,
    gaussian_stats,
    subset_sizes,
    subsets,
)
from ganbench.results import protocol
from ganbench.training.gan import GAN


def write_images(folder, n: int, seed: int, size: int = 32) -> None:
    """Blurry colour blobs: images with structure, so that resizing filters differ."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        small = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR)
        image.save(folder / f"{i}.png")


@pytest.mark.e2e
def test_fid_with_pytorch_fids_preprocessing_equals_pytorch_fid(
    random_weights, tmp_path, monkeypatch, capsys
):
    """`ganbench fid A B --preprocess pytorch-fid` against pytorch-fid's own
    calculate_fid_given_paths (its dataset, resize, network and sqrtm) on images this test
    writes, with the same (random) Inception weights: within 1e-4 relative."""
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")
    state, path = random_weights
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    write_images(tmp_path / "a", 12, seed=1)
    write_images(tmp_path / "b", 12, seed=2)
    theirs = fid_score.calculate_fid_given_paths(
        [str(tmp_path / "a"), str(tmp_path / "b")], 12, "cpu", 2048, num_workers=0
    )
    inception_module.load_network.cache_clear()
    args = ["fid", str(tmp_path / "a"), str(tmp_path / "b"), "--inception-weights", str(path)]
    assert main([*args, "--preprocess", "pytorch-fid", "--device", "cpu"]) == 0
    ours = float(capsys.readouterr().out.split("FID: ")[1].split()[0])
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_the_three_preprocessings_differ_on_small_images():
    """What moves FID between implementations on 32x32 images: the network's input."""
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 3, 32, 32))).float()
    inputs = {name: fn(x) for name, (fn, _) in inception_module.PREPROCESSING.items()}
    for a, b in (("ttur", "pytorch-fid"), ("ttur", "clean"), ("pytorch-fid", "clean")):
        assert inputs[a].shape == inputs[b].shape == (2, 3, 299, 299)
        assert (inputs[a] - inputs[b]).abs().mean() > 1e-3


def test_clean_preprocessing_equals_clean_fids_resizer():
    """clean-fid's "clean" mode resizer (PIL bicubic on float channels, clipped), then
    TTUR's scaling, applied by ganbench to the same images: within float32 rounding."""
    resize = pytest.importorskip("cleanfid.resize")
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    theirs = np.stack(
        [
            resize.make_resizer("PIL", False, "bicubic", (299, 299))(im.transpose(1, 2, 0))
            for im in images
        ]
    ).transpose(0, 3, 1, 2)
    ours = inception_module.clean_input(torch.from_numpy(images).float())
    torch.testing.assert_close(ours, (torch.from_numpy(theirs) - 128) / 128, rtol=0, atol=1e-6)


def test_inception_settings_name_the_preprocessing_and_old_results_are_ttur():
    """A result made before `preprocess` existed is TTUR's (absent means default)."""
    old = {"extractor": "inception", "resize": "tf-legacy-bilinear 299", "samples": 10}
    assert protocol.settings({"settings": old}) == {**old, "preprocess": "ttur"}
    assert protocol.settings({"settings": {**old, "preprocess": "clean"}})["preprocess"] == "clean"
    mnist = {"extractor": "mnist-classifier"}
    assert protocol.settings({"settings": mnist}) == mnist


def gaussian_features(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_fid_infinity_removes_the_bias_in_one_over_n_of_gaussian_features():
    """Features drawn from N(0, I_d) against the exact statistics: E[FID_N] = d/N (mean)
    + d(d+1)/(4N) (trace term, to first order), so the fit's slope is d + d(d+1)/4 and its
    intercept 0, while FID_N itself is clearly positive."""
    d = 8
    exact = GaussianStats(torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64), 0)
    fake = gaussian_features(40000, d, seed=0)
    result = fid_infinity(exact, fake)
    fid_n = frechet_distance(exact, gaussian_stats(fake[:4000]))
    assert fid_n > 0.004  # about 26 / 4000 = 0.0065
    assert abs(result.value) < 0.1 * fid_n
    assert result.slope == pytest.approx(d + d * (d + 1) / 4, rel=0.2)
    assert len(result.sizes) == 15 and result.sizes[0] == 4000 and result.sizes[-1] == 40000


def test_fid_infinity_of_two_samples_of_one_distribution_is_near_zero():
    """Real statistics from 200,000 samples (their own bias, (d + d(d+1)/4) 4 / 200,000 =
    0.0017, stays in FID-infinity: the authors fix the real side too), generated from
    2,000 to 20,000: FID_N from 0.17 down to 0.017, FID-infinity near the real side's."""
    real = gaussian_stats(gaussian_features(200000, 16, seed=1) * 2 + 1)
    fake = gaussian_features(20000, 16, seed=2) * 2 + 1
    result = fid_infinity(real, fake)
    assert result.fids[0] > 0.1 and result.fids[-1] > 0.01
    assert abs(result.value) < 0.005


def _authors_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """The authors' numpy_calculate_frechet_distance (scipy sqrtm)."""
    covmean = linalg.sqrtm(sigma1.dot(sigma2)).real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def test_fid_infinity_follows_the_authors_calculate_fid_infinity():
    """Their calculate_FID_infinity on the same subsets: FID of each subset with numpy's
    mean and covariance and scipy's sqrtm, then a linear regression on 1/N evaluated at 0."""
    features = gaussian_features(3000, 6, seed=4) @ torch.diag(
        torch.arange(1.0, 7.0, dtype=torch.float64)
    )
    real = gaussian_features(3000, 6, seed=5)
    ours = fid_infinity(gaussian_stats(real), features)
    data_m, data_s = real.numpy().mean(0), np.cov(real.numpy(), rowvar=False)
    sizes = subset_sizes(features.shape[0])
    fids = []
    for index in subsets(features.shape[0], sizes):
        act = features[index].numpy()
        fids.append(_authors_frechet(act.mean(0), np.cov(act, rowvar=False), data_m, data_s))
    slope, intercept = np.polyfit(1 / np.array(sizes), np.array(fids), 1)
    assert ours.fids == pytest.approx(fids, rel=1e-9)
    assert ours.value == pytest.approx(intercept, rel=1e-9)
    assert ours.slope == pytest.approx(slope, rel=1e-9)


def test_sobol_latents_fill_the_prior_more_evenly_than_random_draws():
    """Scrambled Sobol points through the normal inverse CDF: the same per seed, another
    for another seed, and their per-coordinate means within 3e-3 of 0 at 4,096 points
    (random draws: standard error 0.016 per coordinate)."""
    gan = GAN(nn.Linear(8, 2), nn.Identity(), latent_dim=8, lr_g=0, lr_d=0)
    z = gan.sobol_latents(4096, seed=0)
    assert torch.equal(z, gan.sobol_latents(4096, seed=0))
    assert not torch.equal(z, gan.sobol_latents(4096, seed=1))
    assert z.mean(0).abs().max() < 3e-3
    assert z.std(0).sub(1).abs().max() < 0.01
    gan.latent = "uniform"
    u = gan.sobol_latents(4096, seed=0)
    assert u.min() >= -1 and u.max() <= 1


def test_fid_infinity_in_a_suite_draws_sobol_latents_and_records_its_fit():
    """fid-mnist with infinity = true: FID itself is what it is without it (same images,
    same value), FID-infinity comes from Sobol latents and keeps the 15 points of its
    fit, whose least-squares intercept is the value (the report plots them)."""
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(8, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    measured = {
        infinity: evaluate_generator(
            generator,
            "mnist",
            ["fid-mnist"],
            latent_dim=8,
            metric_params={"fid-mnist": {"samples": 600, "infinity": infinity}},
        )
        for infinity in (False, True)
    }
    assert measured[True]["fid_mnist"] == measured[False]["fid_mnist"]
    extrapolated = measured[True]["fid_mnist_infinity"]
    assert extrapolated.settings["latents"] == "sobol"
    fit = extrapolated.conditions["fit"]
    assert len(fit["sizes"]) == 15 and fit["sizes"][-1] == 600
    x = np.array([1 / n for n in fit["sizes"]])
    slope, intercept = np.polyfit(x, np.array(fit["fids"]), 1)
    assert extrapolated.value == pytest.approx(intercept, rel=1e-9)
    assert fit["slope"] == pytest.approx(slope, rel=1e-9)


def test_fid_infinity_in_a_suite_refuses_no_more_images_than_dimensions():
    """issue 41 #15 in a suite too: 100 images of 128-d features fit nothing (the CLI and
    the library refuse them alike), so no meaningless or negative value is recorded."""
    from ganbench.errors import GanbenchError

    generator = nn.Sequential(nn.Linear(8, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    with pytest.raises(GanbenchError, match="has 100 images, no more than the features' 128"):
        evaluate_generator(
            generator,
            "mnist",
            ["fid-mnist"],
            latent_dim=8,
            metric_params={"fid-mnist": {"samples": 100, "infinity": True}},
        )


def test_fid_command_prints_fid_infinity_for_folders(tmp_path, capsys, monkeypatch):
    """More images than the features' 128 dimensions (issue 41 #15: fewer are refused);
    subsets of 14 of them are not, which a note says."""
    write_images(tmp_path / "real", 140, seed=6, size=28)
    write_images(tmp_path / "fake", 140, seed=7, size=28)
    args = [
        "fid",
        str(tmp_path / "real"),
        str(tmp_path / "fake"),
        "--extractor",
        "mnist-classifier",
    ]
    assert main([*args, "--infinity", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    fid_n, fid_inf = (float(out.split(f"{k}: ")[1].split()[0]) for k in ("FID", "FID∞"))
    assert math.isfinite(fid_inf) and fid_inf < fid_n  # the bias is positive
    assert "over N = 14, " in out and ", 140;" in out
    assert "note: FID∞: its smallest subsets (14 images)" in err
    assert main([*args[:2], str(tmp_path / "x.npz"), "--infinity"]) == 2
    assert "--infinity: give the real images" in capsys.readouterr().err
