"""Helpers shared by test modules (a test module never imports another)."""

from __future__ import annotations

from pathlib import Path

import torch

import ganbench.run
import ganbench.run.job
from ganbench.data.images import ImageDataset, Split


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
