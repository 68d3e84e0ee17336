"""A project's own images as a dataset: image folders and .npy/.npz arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganbench.cli import main
from ganbench.data.files import image_arrays, image_folder
from ganbench.errors import GanbenchError


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    for i in range(10):
        pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "imgs" / ("sub" if i % 2 else "") / f"{i}.png")
    return tmp_path / "imgs"


def test_folder_reads_every_image_and_splits_them_once(folder):
    data = image_folder(path=str(folder), test_fraction=0.2)
    assert data.sample_shape == (3, 12, 12)
    assert (data.train.images.shape[0], data.test.images.shape[0]) == (8, 2)
    again = image_folder(path=str(folder), test_fraction=0.2)
    assert np.array_equal(again.test.images.numpy(), data.test.images.numpy())  # fixed split
    every = np.concatenate([data.train.images.numpy(), data.test.images.numpy()])
    pixels = np.asarray(Image.open(folder / "0.png")).transpose(2, 0, 1)
    assert any(np.array_equal(pixels, image) for image in every)  # bytes unchanged


def test_folder_resizes_and_converts_to_grayscale(folder):
    data = image_folder(path=str(folder), resolution=8, channels=1)
    assert data.sample_shape == (1, 8, 8)


def test_arrays_npy_and_npz_layouts(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (20, 6, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    data = image_arrays(path=str(tmp_path / "x.npy"))
    assert data.sample_shape == (3, 6, 6) and data.train.images.shape[0] == 18
    np.savez(tmp_path / "x.npz", train=images[:, :, :, 0], test=images[:4, :, :, 0])
    data = image_arrays(path=str(tmp_path / "x.npz"))
    assert data.sample_shape == (1, 6, 6) and data.test.images.shape[0] == 4


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: image_folder(path=""), 'set path = "..."'),
        (lambda p: image_folder(path=str(p / "nowhere")), "does not exist (relative paths"),
        (lambda p: image_arrays(path=str(p / "f.npy")), "dtype float64; store images as uint8"),
        (lambda p: image_arrays(path=str(p / "bad.npz")), "no array 'train' (it holds images)"),
        (lambda p: image_arrays(path=str(p / "shape.npy")), "expected (N, H, W), (N, H, W, C)"),
    ],
)
def test_bad_files_say_what_to_do(tmp_path, make, message):
    np.save(tmp_path / "f.npy", np.zeros((3, 4, 4)))
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 4, 4), np.uint8))
    np.save(tmp_path / "shape.npy", np.zeros((3, 4, 4, 5), np.uint8))
    with pytest.raises(GanbenchError) as e:
        make(tmp_path)
    assert message in str(e.value)


def test_a_suite_trains_on_a_folder(folder, workdir, capsys):
    suite = workdir / "suites" / "own"
    suite.mkdir()
    (suite / "suite.toml").write_text(
        f'name = "own"\nversion = 1\n[[datasets]]\nname = "folder"\npath = "{folder}"\n'
        'resolution = 28\n[[models]]\nname = "dcgan"\nwidth = 8\n[[metrics]]\n'
        'name = "throughput"\n[budget]\nsteps = 3\nbatch_size = 4\nseeds = [0]\n'
    )
    assert main(["run", str(suite)]) == 0
    (run,) = (workdir / "results" / "runs").glob("*/*")
    result = json.loads((run / "result.json").read_text())
    assert result["suite"]["datasets"]["folder"] == f"10 images from {folder}"
    assert result["results"]["dcgan"]["folder"]["samples_per_second"]["mean"] > 0
