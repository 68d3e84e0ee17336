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
