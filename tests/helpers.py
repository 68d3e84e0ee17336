"""Helpers shared by test modules (a test module never imports another)."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from torch import nn

import ganbench.run
import ganbench.run.job
from ganbench.data import cifar10 as cifar_module
from ganbench.data.images import ImageDataset, Split, to_model_space

REPO = Path(__file__).resolve().parents[1]


def committed(pattern: str) -> list[Path]:
    """The repository's committed files matching `pattern` (a git pathspec, e.g.
    "results/runs/*/*/result.json"), sorted: git's list, so that the runs a user makes in
    the checkout (README: `ganbench run suites/mog`, then `pytest`) never stand in for
    the committed ones. Outside a git checkout, the files there."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", pattern],
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return sorted(REPO.glob(pattern))
    return sorted(REPO / name for name in listed.split("\0") if name)


def copy_checkout(dest: Path) -> Path:
    """The checkout's files as a contributor has them (tracked, and new ones git does not
    ignore) copied to `dest`, links kept as links; no results/runs of a user's."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    runs = {str(p.relative_to(REPO)) for p in committed("results/runs")}
    for name in dict.fromkeys(filter(None, listed.split("\0"))):
        path, target = REPO / name, dest / name
        if name.startswith("results/runs/") and name not in runs:
            continue  # a run the user made
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            target.symlink_to(os.readlink(path))
        elif path.is_file():
            shutil.copy2(path, target)
    return dest


def committed_run(number: int) -> Path:
    """The committed run folder numbered `number` (results/runs/MACHINE/NNNN_...)."""
    (result,) = committed(f"results/runs/*/{number:04d}_*/result.json")
    return result.parent


def image_data(channels: int, size: int, n: int = 32) -> ImageDataset:
    """Bright squares at random places on black: easy for a discriminator to tell from noise."""
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(n, channels, size, size, dtype=torch.uint8)
    for i, (y, x) in enumerate(torch.randint(0, size - 8, (n, 2), generator=g).tolist()):
        images[i, :, y : y + 8, x : x + 8] = 255
    split = Split(images, torch.zeros(n, dtype=torch.long))
    return ImageDataset(f"squares-{channels}x{size}", split, split, "test")


#: mlp-gan on ring-8, 20 steps, 2 seeds: a whole run in seconds.
TINY = """
name = "tiny"
version = 1
[[datasets]]
name = "ring-8"
[[models]]
name = "mlp-gan"
hidden = 16
[[metrics]]
name = "mode-coverage"
samples = 200
[[metrics]]
name = "throughput"
[budget]
steps = 20
batch_size = 32
seeds = [0, 1]
"""
#: TINY on two datasets: two (model, dataset) pairs, four jobs.
TWO_DATASETS = TINY.replace("[[models]]", '[[datasets]]\nname = "grid-25"\n[[models]]')


def only_run(workdir: Path) -> Path:
    (run_dir,) = list((workdir / "results" / "runs").glob("*/*"))
    return run_dir


def counting_train(monkeypatch, fail_on: int | None = None, error=KeyboardInterrupt):
    calls = []
    real_train = ganbench.run.job.train

    def train(*args, **kwargs):
        calls.append(kwargs["seed"])
        if len(calls) == fail_on:
            raise error("simulated") if error is not KeyboardInterrupt else error()
        return real_train(*args, **kwargs)

    monkeypatch.setattr(ganbench.run.job, "train", train)
    return calls


#: suites/four of the shard and Ray tests: TINY on two datasets, with a check.
FOUR = TWO_DATASETS.replace('name = "tiny"', 'name = "four"') + (
    '[checks]\n"mlp-gan/ring-8/modes_covered" = ">= 0"\n'
)
#: Measured from the clock or the machine, not from the model: allowed to differ.
TIMING = {"samples_per_second", "peak_memory_mib"}


def only_result_dir(results: Path) -> Path:
    (run_dir,) = (results / "runs").glob("*/*")
    return run_dir


def quality(run_dir: Path) -> dict:
    """Per job: every measurement but throughput (value and settings), and the curves."""
    out = {}
    for path in sorted((run_dir / "jobs").glob("*.json")):
        fragment = json.loads(path.read_text())
        out[path.name] = {
            "measurements": {
                k: (m["value"], m["settings"])
                for k, m in fragment["measurements"].items()
                if k not in TIMING
            },
            "losses": (fragment["training"]["loss_d"], fragment["training"]["loss_g"]),
        }
    return out


def comparable(run_dir: Path) -> dict:
    """result.json without what the clock, the host or the run's number decide."""
    result = json.loads((run_dir / "result.json").read_text())
    for key in ("datetime", "run", "machine_info", "commit_info"):
        result.pop(key)
    for metrics in result["results"]["mlp-gan"].values():
        for key in TIMING:
            metrics.pop(key)
    return result


def images_in(page: str) -> list[str]:
    return re.findall(
        r'<img alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]+" '
        r'width="\d+">',
        page,
    )


def write_pngs(folder, images):
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")


class Replay(nn.Module):
    """A 'generator' that returns given images in order, ignoring z."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = to_model_space(images)
        self.position = 0
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the module a device

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.images[self.position : self.position + z.shape[0]]
        self.position += z.shape[0]
        return out


#: The random numbers of write_cifar_folder: each call writes other images.
RNG = np.random.default_rng(0)


def write_cifar_folder(root: Path, per_batch: int = 20) -> dict[str, list]:
    folder = root / cifar_module.FOLDER
    folder.mkdir(parents=True)
    written = {}
    for name in cifar_module.TRAIN_BATCHES + cifar_module.TEST_BATCHES:
        data = RNG.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = RNG.integers(0, 10, per_batch).tolist()
        # The real layout: a pickled dict with bytes keys, rows of R, G, B planes.
        with open(folder / name, "wb") as f:
            pickle.dump(
                {
                    b"batch_label": name.encode(),
                    b"labels": labels,
                    b"data": data,
                    b"filenames": [b"x.png"] * per_batch,
                },
                f,
            )
        written[name] = [data, labels]
    return written


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    """Every parameter and buffer of `a` equals `b`'s to 1e-5 (see the ensemble test)."""
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)
