"""A project's own images as a dataset: image folders and .npy/.npz arrays."""

from __future__ import annotations

import contextlib
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


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _truncated(tmp_path):
    whole = _npz(tmp_path / "whole.npz", train=np.zeros((50, 8, 8), np.uint8))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:300])
    return cut


def _huge_header(tmp_path):
    """A .npy whose header claims 2.8 TiB of uint8 images (the file is tiny)."""
    path = tmp_path / "huge.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": (3_000_000, 1000, 1000)}
        )
        f.write(b"\0" * 64)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _npz(p / "o.npz", train=np.array([{"a": 1}] * 4, dtype=object)), "cannot read"),
        (lambda p: np.save(p / "o.npy", np.array([[1]], dtype=object)) or p / "o.npy", "readable"),
        (_truncated, "cut.npz"),
        (_huge_header, "huge.npy"),
        (lambda p: p / "empty.npz", "empty.npz"),  # 0 bytes
        (
            lambda p: _npz(
                p / "t.npz", train=np.zeros((4, 8, 8), np.uint8), test=np.zeros((0, 8, 8), np.uint8)
            ),
            "t.npz[test]: no images",
        ),
        (
            lambda p: _npz(p / "z.npz", train=np.zeros((0, 8, 8), np.uint8)),
            "z.npz[train]: no images",
        ),
    ],
    ids=[
        "object-npz",
        "object-npy",
        "truncated",
        "huge-header",
        "zero-bytes",
        "empty-test",
        "empty-train",
    ],
)
def test_damaged_array_files_are_one_line_naming_the_file(tmp_path, make, message):
    """issue 23 #5: each of these was a traceback (or a 0-image split accepted)."""
    (tmp_path / "empty.npz").touch()
    path = make(tmp_path)
    with pytest.raises(GanbenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        image_arrays(path=str(path))


def test_mutated_array_files_never_give_a_traceback(tmp_path):
    """Fuzz (issue 23 #5): random byte damage to a valid .npz and .npy is a GanbenchError
    or a dataset, never another exception."""
    rng = np.random.default_rng(0)
    npz = _npz(tmp_path / "a.npz", train=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8))
    np.save(tmp_path / "a.npy", rng.integers(0, 256, (20, 8, 8), dtype=np.uint8))
    for original in (npz, tmp_path / "a.npy"):
        data = bytearray(original.read_bytes())
        for trial in range(60):
            damaged = bytearray(data)
            for _ in range(1 + trial % 4):
                damaged[rng.integers(0, len(damaged))] = rng.integers(0, 256)
            if trial % 5 == 0:
                damaged = damaged[: rng.integers(0, len(damaged))]
            path = tmp_path / f"fuzz{original.suffix}"
            path.write_bytes(bytes(damaged))
            with contextlib.suppress(GanbenchError):
                image_arrays(path=str(path))


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    """issue 23 #6: convert("L") clipped a 16-bit PNG, turning 99.6 % of it white."""
    (tmp_path / "deep").mkdir()
    ramp = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    for i in range(4):
        Image.fromarray(ramp).save(tmp_path / "deep" / f"{i}.png")  # mode I;16
    data = image_folder(path=str(tmp_path / "deep"), channels=1, test_fraction=0.25)
    pixels = data.train.images[0, 0].numpy().astype(int)
    assert abs(pixels - np.round(ramp / 257)).max() <= 1
    assert (pixels == 255).mean() < 0.01


def test_resolution_has_an_upper_bound(tmp_path, capsys):
    """issue 23 #7: resolution = 100000 passed validation, then ran out of memory."""
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'name = "s"\nversion = 1\n[[datasets]]\nname = "folder"\npath = "x"\nresolution = 100000\n'
        '[[models]]\nname = "dcgan"\n[[metrics]]\nname = "fid-mnist"\n'
        "[budget]\nsteps = 1\nbatch_size = 1\nseeds = [0]\n"
    )
    assert main(["validate", str(suite)]) == 2
    assert "datasets[0].resolution" in capsys.readouterr().err


def test_small_input_mistakes_say_what_to_do(tmp_path, folder):
    """issue 23 #14: 'too few to split' without a fix, an image file as `path` said 'no
    images found', and PIL's decompression-bomb warning was printed raw."""
    one = tmp_path / "one"
    one.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(one / "0.png")
    with pytest.raises(GanbenchError, match="too few to split into train and test; add"):
        image_folder(path=str(one))
    with pytest.raises(GanbenchError, match="is a file; give the folder that holds the images"):
        image_folder(path=str(one / "0.png"))
    Image.MAX_IMAGE_PIXELS, saved = 100, Image.MAX_IMAGE_PIXELS  # 144 px: PIL only warns
    try:
        with pytest.raises(GanbenchError, match="too large to decode safely"):
            image_folder(path=str(folder))
    finally:
        Image.MAX_IMAGE_PIXELS = saved
