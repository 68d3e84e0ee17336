"""Feature extraction across torchrun's ranks (issue 13 #5), on a CPU with the gloo
backend and 2 processes: each rank embeds its share of the batches and the gathered
features must equal one process's bit for bit (the same batches on the same CPU)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganbench.cli import main
from ganbench.features.base import embed
from ganbench.registry import EXTRACTORS
from ganbench.runtime import distributed
from tests.helpers import write_pngs

BATCH = 64


@pytest.mark.parametrize(
    ("total", "world"), [(300, 2), (300, 4), (64, 1), (1000, 3), (320, 5), (129, 3)]
)
def test_shares_are_whole_batches_that_cover_every_image_once_in_order(total, world):
    shares = [distributed.share(total, BATCH, rank, world) for rank in range(world)]
    covered = [i for s in shares for i in range(total)[s]]
    assert covered == list(range(total))
    assert all(s.start % BATCH == 0 for s in shares)
    assert all(s.stop > s.start for s in shares)  # as many batches as ranks, or more


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (300, 1, 28, 28), generator=generator, dtype=torch.uint8)


def _embed_on_rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    extractor = EXTRACTORS.get("mnist-classifier").factory(device="cpu")
    both = embed(extractor, _images(), BATCH, torch.device("cpu"))
    torch.save({"features": both.features, "logits": both.logits}, f"{out}.{rank}")
    dist.destroy_process_group()


@pytest.mark.e2e
def test_two_gloo_ranks_embed_exactly_what_one_process_does(tmp_path):
    out = str(tmp_path / "embedding")
    mp.spawn(_embed_on_rank, args=(2, _free_port(), out), nprocs=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the ranks: the same kernels, the same rounding
    try:
        extractor = EXTRACTORS.get("mnist-classifier").factory(device="cpu")
        alone = embed(extractor, _images(), BATCH, torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    for rank in range(2):  # every rank holds the whole, features and logits
        gathered = torch.load(f"{out}.{rank}")
        assert gathered["features"].shape == (300, extractor.dim)
        assert torch.equal(gathered["features"], alone.features)
        assert torch.equal(gathered["logits"], alone.logits)


@pytest.mark.e2e
def test_torchrun_fid_saves_the_statistics_one_process_saves(tmp_path, capsys):
    write_pngs(tmp_path / "a", _images())
    write_pngs(tmp_path / "b", _images().flip(-1))
    args = ["--extractor", "mnist-classifier", "--device", "cpu", "--batch-size", str(BATCH)]
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "b"), *args,
                 "--save-stats", str(tmp_path / "one.npz")]) == 0  # fmt: skip
    one = capsys.readouterr().out
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*torchrun, "--master-port", str(_free_port()), "-m", "ganbench", "fid",
         str(tmp_path / "a"), str(tmp_path / "b"), *args,
         "--save-stats", str(tmp_path / "two.npz")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == one  # printed once (rank 0), the same FID
    saved = [np.load(tmp_path / f"{name}.npz") for name in ("one", "two")]
    for key in ("mu", "sigma"):
        assert np.array_equal(saved[0][key], saved[1][key])


def test_commands_that_do_not_split_are_refused_under_torchrun(tiny_suite, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["run", str(tiny_suite)]) == 2
    assert "only fid, is, eval, stats split their work across ranks" in capsys.readouterr().err
