"""The library's surfaces against hostile and mistaken input (issue 44, the second attack:
notes/attack2.md): each test fails on the code the attack found (main at 4fd9c10) and
holds the fix. Files from others are data, never code; bad input is one line; a value
is never silently computed from other images than the ones asked for.

The MNIST classifier stands in for the Inception (the paths do not depend on the network).
"""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest
import torch

import ganbench
from ganbench.data import cifar10 as cifar_module
from ganbench.data.mnist import mnist
from ganbench.errors import GanbenchError
from ganbench.runtime.environment import DATA_ROOT_ENV
from tests.helpers import write_cifar_folder

CLASSIFIER = {"extractor": "mnist-classifier", "device": "cpu"}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """60 MNIST train digits ("generated") and the test split's first 60 ("real")."""
    data = mnist()
    return data.train.images[:60], data.test.images[:60]


# --- 1: CIFAR-10's pickles are data ---------------------------------------------------


class _WritesMarker:
    """Runs code when unpickled the unsafe way: writes `marker`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


class Python2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote, as the real CIFAR-10 batches hold it: every
    string a BINSTRING (bytes under encoding="bytes"), numpy 1's numpy.core.multiarray."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _binstring(self, obj) -> None:
        raw = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _binstring
    dispatch[str] = _binstring

    def save_global(self, obj, name=None) -> None:
        module = "numpy.core.multiarray" if obj.__name__ == "_reconstruct" else obj.__module__
        self.write(pickle.GLOBAL + f"{module}\n{obj.__name__}\n".encode())
        self.memoize(obj)


def test_a_cifar_batch_that_runs_code_when_unpickled_is_refused_unrun(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    folder = tmp_path / "root" / cifar_module.FOLDER
    folder.mkdir(parents=True)
    for name in cifar_module.TRAIN_BATCHES + cifar_module.TEST_BATCHES:
        payload = {b"data": _WritesMarker(marker), b"labels": [0]}
        (folder / name).write_bytes(pickle.dumps(payload))
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "root"))
    with pytest.raises(GanbenchError) as error:
        cifar_module.cifar10()
    assert not marker.exists()
    message = str(error.value)
    assert "\n" not in message and "data_batch_1: not a CIFAR-10 python batch" in message
    assert "refused builtins.exec" in message and "extract cifar-10-python.tar.gz again" in message


def test_cifar_in_the_current_folders_data_is_read_as_data_too(tmp_path, monkeypatch):
    """./data is searched without --data-root (a cloned folder may hold one): still no code."""
    marker = tmp_path / "PWNED"
    folder = tmp_path / "data" / cifar_module.FOLDER
    folder.mkdir(parents=True)
    for name in cifar_module.TRAIN_BATCHES + cifar_module.TEST_BATCHES:
        (folder / name).write_bytes(pickle.dumps({b"data": _WritesMarker(marker)}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    with pytest.raises(GanbenchError, match="not a CIFAR-10 python batch"):
        ganbench.fid(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), "cifar10:test", samples=10)
    assert not marker.exists()


@pytest.mark.parametrize("python2", [True, False], ids=["python2-cpickle", "python3-pickle"])
def test_a_genuine_cifar_batch_reads_as_plain_pickle_reads_it(tmp_path, monkeypatch, python2):
    rng = np.random.default_rng(1)
    written = {}
    folder = tmp_path / cifar_module.FOLDER
    folder.mkdir()
    for name in cifar_module.TRAIN_BATCHES + cifar_module.TEST_BATCHES:
        batch = {
            b"batch_label": f"training batch {name}".encode(),
            b"labels": rng.integers(0, 10, 7).tolist(),
            b"data": rng.integers(0, 256, (7, 3072), dtype=np.uint8),
            b"filenames": [b"x_%d.png" % i for i in range(7)],
        }
        buffer = io.BytesIO()
        (Python2Pickler(buffer, protocol=2) if python2 else pickle.Pickler(buffer)).dump(batch)
        (folder / name).write_bytes(buffer.getvalue())
        written[name] = pickle.loads(buffer.getvalue(), encoding="bytes")  # plain pickle
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    data = cifar_module.cifar10()
    train = np.concatenate([written[n][b"data"] for n in cifar_module.TRAIN_BATCHES])
    np.testing.assert_array_equal(data.train.images.numpy(), train.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(
        data.test.images.numpy(), written["test_batch"][b"data"].reshape(-1, 3, 32, 32)
    )
    assert data.test.labels.tolist() == written["test_batch"][b"labels"]


@pytest.mark.parametrize(
    "batch, message",
    [
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "not a uint8 array"),
        ({b"data": np.zeros((2, 3072), object), b"labels": [0, 1]}, "not a uint8 array"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "not 2 classes 0-9"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 99]}, "not 2 classes 0-9"),
        ([1, 2], "not a CIFAR-10 python batch"),
    ],
)
def test_a_cifar_batch_of_other_data_is_one_line(tmp_path, monkeypatch, batch, message):
    write_cifar_folder(tmp_path)
    (tmp_path / cifar_module.FOLDER / "data_batch_2").write_bytes(pickle.dumps(batch))
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    with pytest.raises(GanbenchError, match=message) as error:
        cifar_module.cifar10()
    assert "data_batch_2" in str(error.value) and "\n" not in str(error.value)


# --- 14: a named split is never a module to import ------------------------------------


def test_evaluate_never_imports_a_module_named_like_a_dataset(tmp_path, monkeypatch):
    import sys

    marker = tmp_path / "IMPORTED"
    (tmp_path / "mnist.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ntest = None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mnist", raising=False)
    generator = lambda z: torch.tanh(z[:, :1, None, None].expand(-1, 1, 28, 28))  # noqa: E731
    with pytest.raises(GanbenchError) as error:
        ganbench.evaluate(generator, "mnist:test", ["fid-mnist"], latent_dim=8, device="cpu")
    assert not marker.exists()
    assert str(error.value) == (
        "dataset 'mnist:test': 'mnist' is ganbench's own dataset, not a module to import "
        "(MODULE:FUNCTION); give 'mnist' alone (a split is each metric's real_split)"
    )


def test_evaluate_takes_one_metric_name_as_a_string():
    generator = lambda z: torch.tanh(z[:, :2])  # noqa: E731
    scores = ganbench.evaluate(generator, "ring-8", "mode-coverage", latent_dim=4, device="cpu")
    assert "modes_covered" in scores


# --- 2, 3: a cache entry that does not hold what its key says is recomputed -----------


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda f: f[:3], "has shape (3, 128), the key says (60, 128)"),
        (lambda f: torch.cat([f, f]), "has shape (120, 128)"),
        (lambda f: f[0], "has shape (128,)"),
        (lambda f: f * float("nan"), "holds NaN or infinite values"),
        (lambda f: f.round().int(), "is not a float32 tensor"),
        (lambda f: f.to(torch.complex64), "is not a float32 tensor"),
        (lambda f: [1, 2, 3], "is not a float32 tensor"),
        (None, "no 'features'"),
    ],
    ids=["3-rows", "120-rows", "1-d", "nan", "int", "complex", "list", "missing"],
)
def test_a_damaged_cache_entry_is_recomputed_with_a_warning(
    digits, tmp_path, monkeypatch, capsys, damage, why
):
    from ganbench.features.cache import CACHE_ENV, cache_dir

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    generated, _ = digits
    first = ganbench.fid(generated, "mnist:test", samples=60, **CLASSIFIER)
    [entry] = cache_dir().iterdir()
    stored = torch.load(entry, weights_only=True)
    if damage is None:
        del stored["features"]
    else:
        stored["features"] = damage(stored["features"])
    torch.save(stored, entry)
    capsys.readouterr()
    again = ganbench.fid(generated, "mnist:test", samples=60, **CLASSIFIER)
    assert float(again) == float(first) and again.settings["real_samples"] == 60
    err = capsys.readouterr().err
    assert f"ganbench: warning: {entry}: a damaged cache entry, " in err and why in err
    assert float(ganbench.fid(generated, "mnist:test", samples=60, **CLASSIFIER)) == first
    assert "damaged" not in capsys.readouterr().err  # the entry was written again, whole


# --- 5, 18: images in memory ------------------------------------------------------------


@pytest.mark.parametrize(
    "make, value_range",
    [
        (lambda g: g.float(), (0, 1)),  # 0..255 declared 0..1: every pixel white
        (lambda g: g.float(), (-1, 1)),
        (lambda g: g.float() / 127.5 - 1, (0, 1)),  # -1..1 declared 0..1: black below 0
    ],
    ids=["0-255-as-0-1", "0-255-as-minus1-1", "minus1-1-as-0-1"],
)
def test_floats_beyond_their_declared_range_are_refused(digits, make, value_range):
    with pytest.raises(GanbenchError) as error:
        ganbench.fid(
            make(digits[0]), "mnist:test", value_range=value_range, samples=60, **CLASSIFIER
        )
    message = str(error.value)
    assert "beyond value_range=" in message and "\n" not in message
    assert "declare the range they span" in message
    with pytest.raises(GanbenchError, match="beyond value_range"):  # the streaming update too
        ganbench.FID(value_range=value_range, extractor="mnist-classifier").update(make(digits[0]))


def test_a_generators_overshoot_within_half_a_span_is_clamped_as_a_suite_clamps_it(digits):
    generated = digits[0]
    floats = generated.float() / 127.5 - 1
    floats[:, :, 0, 0] = 1.3  # past +-1, as a generator without a final tanh (StyleGAN)
    expected = ganbench.vendi(floats.clamp(-1, 1), value_range=(-1, 1), **CLASSIFIER)
    assert ganbench.vendi(floats, value_range=(-1, 1), **CLASSIFIER) == expected


@pytest.mark.parametrize("value_range", ["01", (0,), (0, 1, 2), (True, 2), ("0", "1"), 5])
def test_value_range_is_a_pair_of_numbers(digits, value_range):
    for images in (digits[0].float() / 255, digits[0]):  # uint8 too: the argument is wrong
        with pytest.raises(GanbenchError, match="expected a pair of numbers"):
            ganbench.vendi(images, value_range=value_range, **CLASSIFIER)


def test_big_endian_and_sparse_images_read_as_the_same_images(digits):
    generated = digits[0][:20]
    expected = ganbench.vendi(generated, **CLASSIFIER)
    big = (generated.numpy() / 255).astype(">f4")
    assert ganbench.vendi(big, value_range=(0, 1), **CLASSIFIER) == expected
    assert ganbench.vendi(generated.to_sparse(), **CLASSIFIER) == expected
    with pytest.raises(GanbenchError, match="meta device holds no values"):
        ganbench.vendi(torch.empty(2, 1, 28, 28, device="meta"), **CLASSIFIER)


# --- 6-10: a generator's output is images, one per latent --------------------------------


def _tanh(z: torch.Tensor) -> torch.Tensor:
    return torch.tanh(z[:, :1, None, None].expand(-1, 1, 28, 28))


GENERATED = {"latent_dim": 8, "samples": 60, **CLASSIFIER}


@pytest.mark.parametrize(
    "generator, message",
    [
        (lambda z: _tanh(z)[:3], "the generator returns 3 images for 60 latents"),
        (lambda z: torch.cat([_tanh(z)] * 3), "the generator returns 180 images for 60 latents"),
        (lambda z: (_tanh(z), 1), "a tuple; expected a torch tensor or numpy array"),
        (lambda z: None, "a NoneType; expected a torch tensor or numpy array"),
        (lambda z: torch.empty(len(z), 1, 28, 28, device="meta"), "meta device"),
        (lambda z: _tanh(z).long(), "torch.int64 images; expected uint8"),
        (lambda z: _tanh(z) * 127.5 + 127.5, "beyond value_range=(-1, 1)"),
    ],
    ids=["fewer", "more", "tuple", "none", "meta", "int64", "0-255-floats"],
)
def test_a_generators_output_that_is_not_one_image_per_latent_is_one_line(generator, message):
    with pytest.raises(GanbenchError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        ganbench.fid(generator, "mnist:test", **GENERATED)
    assert "\n" not in str(e.value) and "for 60 latents" in str(e.value)


def test_a_generators_uint8_ndarray_or_nhwc_output_is_the_same_images():
    expected = ganbench.fid(_tanh, "mnist:test", **GENERATED)
    as_uint8 = lambda z: (_tanh(z).add(1).mul(127.5).add(0.5)).clamp(0, 255).to(torch.uint8)  # noqa: E731
    assert ganbench.fid(as_uint8, "mnist:test", **GENERATED) == expected
    assert ganbench.fid(lambda z: _tanh(z).numpy(), "mnist:test", **GENERATED) == expected
    assert (
        ganbench.fid(lambda z: _tanh(z).permute(0, 2, 3, 1), "mnist:test", **GENERATED) == expected
    )


@pytest.mark.parametrize("latent_dim", [10**9, True, 0.5, -3])
def test_latent_dim_is_a_sensible_int(latent_dim):
    with pytest.raises(GanbenchError, match=r"latent_dim=.*an int in \[1, 65536\]"):
        ganbench.fid(_tanh, "mnist:test", **{**GENERATED, "latent_dim": latent_dim})


def test_vendi_of_no_images_is_one_line():
    with pytest.raises(GanbenchError, match="0 images; the Vendi score needs at least 1"):
        ganbench.vendi(torch.zeros(0, 1, 28, 28, dtype=torch.uint8), **CLASSIFIER)


# --- 4: a split named in the string wins over the default --------------------------------


def test_a_train_split_named_in_the_string_is_measured(digits):
    generated = digits[0]
    named = ganbench.fid(generated, "mnist:train", samples=60, **CLASSIFIER)
    alone = ganbench.fid(generated, "mnist", real_split="train", samples=60, **CLASSIFIER)
    assert named.settings["real_split"] == "train" and float(named) == float(alone)
    kid = ganbench.kid(generated, "fashion-mnist:train", samples=60, subset_size=50, **CLASSIFIER)
    assert kid.settings["dataset"] == "fashion-mnist" and kid.settings["real_split"] == "train"
    _, settings = ganbench.statistics("mnist:train", samples=60, **CLASSIFIER)
    assert settings["images"]["real_split"] == "train"
    assert (
        ganbench.fid(generated, "mnist", samples=60, **CLASSIFIER).settings["real_split"] == "test"
    )
    with pytest.raises(GanbenchError, match=r"mnist:train with real_split='test': name the split"):
        ganbench.fid(generated, "mnist:train", real_split="test", samples=60, **CLASSIFIER)


# --- 11, 19, 20: the streaming classes' and the functions' options ----------------------

STREAMING_BAD = [
    ("FID", {"reference": "mnist:test", "samples": -5}, "samples"),
    ("FID", {"reference": "mnist:test", "samples": 0}, "samples"),
    ("FID", {"reference": "mnist:test", "samples": 10**12}, "samples"),
    ("FID", {"reference": "mnist:test", "batch_size": 0}, "batch_size"),
    ("KID", {"subsets": 0}, "subsets"),
    ("KID", {"subset_size": -5}, "subset_size"),
    ("PRDC", {"k": 0}, "k"),
    ("PRDC", {"k": -1}, "k"),
    ("InceptionScore", {"splits": 0}, "splits"),
    ("InceptionScore", {"splits": -2}, "splits"),
    ("CMMD", {"estimator": "nope", "extractor": "clip-vit-l14-336"}, "estimator"),
    ("CMMD", {}, "extractor: 'mnist-classifier' is not one of clip"),
    ("FID", {"value_range": "01"}, "value_range"),
    ("FID", {"reference": "cifar10:test", "data_root": 5}, "data_root=5"),
]


@pytest.mark.parametrize(
    "name, options, field", STREAMING_BAD, ids=[str(o) for _, o, _ in STREAMING_BAD]
)
def test_the_streaming_classes_check_their_parameters_as_the_functions_do(name, options, field):
    with pytest.raises(GanbenchError) as error:
        getattr(ganbench, name)(**{"extractor": "mnist-classifier", **options})
    assert field in str(error.value) and "\n" not in str(error.value)


def test_a_streaming_reference_reads_cifar_from_its_data_root(tmp_path):
    written = write_cifar_folder(tmp_path / "data", per_batch=4)
    fid = ganbench.FID(reference="cifar10:test", data_root=tmp_path / "data", samples=4)
    images, _ = fid._reference_source.images(None, 4)
    expected = written["test_batch"][0].reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(images.numpy(), expected)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"seed": 2**64}, "seed=18446744073709551616: expected an int in [0, 2147483647]"),
        ({"seed": -1}, "seed=-1: expected an int"),
        ({"seed": "a"}, "seed='a': expected an int"),
        ({"seed": None}, "seed=None: expected an int"),
        ({"seed": 1.5}, "seed=1.5: expected an int"),
        ({"data_root": 5}, "data_root=5: expected a folder's path"),
    ],
)
def test_seed_and_data_root_are_checked_by_the_functions(options, message):
    with pytest.raises(GanbenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ganbench.fid(_tanh, "mnist:test", **{**GENERATED, **options})


# --- 15, 21: fid_infinity refuses what fid and the CLI refuse -----------------------------


def test_fid_infinity_refuses_statistics_of_other_extractor_settings(digits, tmp_path):
    import json

    ganbench.statistics("mnist:test", samples=100, out=tmp_path / "ref.npz", **CLASSIFIER)
    arrays = dict(np.load(tmp_path / "ref.npz"))
    settings = json.loads(str(arrays["settings"]))
    settings["extractor"]["weights_sha1"] = "0" * 40
    arrays["settings"] = np.array(json.dumps(settings))
    np.savez(tmp_path / "lie.npz", **arrays)
    for function in (ganbench.fid, ganbench.fid_infinity):
        with pytest.raises(GanbenchError, match="made with other extractor settings"):
            function(digits[0], str(tmp_path / "lie.npz"), **CLASSIFIER)


def test_fid_infinity_refuses_no_more_images_than_dimensions_as_the_cli(digits):
    with pytest.raises(GanbenchError) as error:
        ganbench.fid_infinity(digits[0], "mnist:test", samples=100, **CLASSIFIER)
    assert str(error.value).startswith(
        "FID-infinity: Tensor (60, 1, 28, 28) has 60 images, no more than the features' 128 "
        "dimensions: every subset's covariance is singular"
    )


# --- 12: a folder's memory guard counts every image, not the first one's size -------------


def test_a_small_first_image_does_not_open_the_memory_guard(tmp_path, monkeypatch):
    from PIL import Image

    import ganbench.features.folders as folders

    Image.new("RGB", (1, 1)).save(tmp_path / "0.png")  # sorted first
    for i in range(1, 4):
        Image.new("RGB", (200, 200), (i, 0, 0)).save(tmp_path / f"{i}.png")
    memory = 600_000  # half: 300 KB; two 200x200 RGB images (2 x 2 x 120 KB) go beyond
    monkeypatch.setattr(folders.os, "sysconf", lambda k: 1 if k == "SC_PAGE_SIZE" else memory)
    with pytest.raises(GanbenchError, match=r"the first 3 of 4 images need .* more than half"):
        folders.read_folder(tmp_path, grayscale=False, mixed_sizes=True)
    memory = 10**9
    assert len(folders.read_folder(tmp_path, grayscale=False, mixed_sizes=True)) == 4


# --- 16, 22 a-b: statistics files named or counted oddly ----------------------------------


def test_statistics_of_an_absurd_count_an_upper_case_suffix_or_not_a_file(digits, tmp_path):
    import os

    ganbench.statistics("mnist:test", samples=100, out=tmp_path / "ref.npz", **CLASSIFIER)
    arrays = dict(np.load(tmp_path / "ref.npz"))
    np.savez(tmp_path / "huge.npz", **{**arrays, "n": np.uint64(2**64 - 1)})
    with pytest.raises(GanbenchError, match=r"huge\.npz: n = 18446744073709551615 images; no"):
        ganbench.fid(digits[0], str(tmp_path / "huge.npz"), **CLASSIFIER)
    (tmp_path / "ref.npz").rename(tmp_path / "REF.NPZ")
    expected = ganbench.fid(digits[0], "mnist:test", samples=100, **CLASSIFIER)
    assert ganbench.fid(digits[0], str(tmp_path / "REF.NPZ"), **CLASSIFIER) == pytest.approx(
        float(expected), rel=1e-9
    )
    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(GanbenchError, match=r"fifo\.npz: not a regular file"):
        ganbench.fid(digits[0], str(tmp_path / "fifo.npz"), **CLASSIFIER)


# --- 22 e, j: the CLI's word on `is --samples`; an unwritable cache -------------------------


def test_is_samples_help_says_what_a_named_split_gives(capsys):
    from ganbench.cli import main

    with pytest.raises(SystemExit):
        main(["is", "--help"])
    assert "its first N (default 50,000" in " ".join(capsys.readouterr().out.split())


def test_an_unwritable_cache_is_a_warning_and_the_value_stands(
    digits, tmp_path, monkeypatch, capsys
):
    from ganbench.features.cache import CACHE_ENV

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file"))
    score = ganbench.fid(digits[0], "mnist:test", samples=60, **CLASSIFIER)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    assert float(score) == float(ganbench.fid(digits[0], "mnist:test", samples=60, **CLASSIFIER))
    assert "; the features are not cached" in capsys.readouterr().err
