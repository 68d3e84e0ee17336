"""Feature extraction across the processes torchrun starts, one per GPU.

`torchrun --nproc-per-node 8 -m ganbench fid|is|eval ...` runs one ganbench per GPU.
Each rank embeds a contiguous share of whole batches, the very batches one process would
run, and every rank receives all the features, so FID, KID, PRDC and IS are computed from
the same numbers as in one process (bit for bit on a CPU; on GPUs, within the run-to-run
noise of their kernels). Generation and the statistics are not split: next to Inception
on 50,000 images they are cheap, and doing them on every rank keeps one code path.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

import torch
import torch.distributed as dist


def start(device: str) -> str:
    """Joins the process group (NCCL between GPUs, gloo on CPUs) and returns this rank's
    device: its own GPU (LOCAL_RANK) unless the command asked for the CPU."""
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return device


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world() -> tuple[int, int]:
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Rank 0, or a process on its own: the one that prints results and writes files."""
    return rank_and_world()[0] == 0


def share(total: int, batch_size: int, rank: int, world: int) -> slice:
    """Rank `rank`'s images: whole batches, contiguous, in order, so that the ranks' batches
    together are exactly one process's; with at least as many batches as ranks, none is
    empty."""
    batches = math.ceil(total / batch_size)
    first, last = (r * batches // world for r in (rank, rank + 1))
    return slice(min(first * batch_size, total), min(last * batch_size, total))


def shared_batches(
    run: Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]],
    images: torch.Tensor,
    batch_size: int,
):
    """`run` (a function of images that batches them itself) on this rank's share of
    `images`, gathered so that every rank returns what `run(images)` returns. Runs `run` on
    everything where there is one process, or fewer batches than ranks."""
    rank, world = rank_and_world()
    total = images.shape[0]
    if world == 1 or math.ceil(total / batch_size) < world:
        return run(images)
    shares = [share(total, batch_size, r, world) for r in range(world)]
    mine = run(images[shares[rank]])
    columns = mine if isinstance(mine, tuple) else (mine,)
    gathered = tuple(_gather(column, [s.stop - s.start for s in shares]) for column in columns)
    return gathered if isinstance(mine, tuple) else gathered[0]


def _gather(part: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Every rank's `part` (rows `sizes[r]`), concatenated in rank order on every rank."""
    wire = torch.device("cuda", torch.cuda.current_device()) if _nccl() else torch.device("cpu")
    longest = max(sizes)
    padded = torch.zeros((longest, *part.shape[1:]), dtype=part.dtype, device=wire)
    padded[: part.shape[0]] = part.to(wire)
    received = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(received, padded)
    return torch.cat([r[:n] for r, n in zip(received, sizes, strict=True)]).to(part.device)


def _nccl() -> bool:
    return dist.get_backend() == "nccl"


def quiet_unless_main() -> None:
    """Ranks other than 0 print nothing (rank 0 prints the results and the progress)."""
    if not is_main():
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the process's life)
