"""Checkpoints, in one place: what a job's checkpoint holds (everything that determines
the rest of its run: weights, optimisers, data order, noise, the record so far), the
per-seed and best-step generator files, and reading any of them back with one line for
a damaged file. Every write is atomic: a crash never leaves half a checkpoint."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ganbench.errors import GanbenchError
from ganbench.results.files import atomic_write_bytes
from ganbench.training.gan import GAN
from ganbench.training.noise import Noise
from ganbench.training.record import TrainingRecord
from ganbench.untrusted import check_archive


def read_checkpoint(path: Path) -> dict[str, Any]:
    """torch.load of a ganbench checkpoint, with one line naming the file when it is
    truncated or is not one (a disk that filled up, a copy that was cut short)."""
    try:
        check_archive(path)  # a run folder may be anyone's: nothing inflates unread
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GanbenchError(
            f"{path}: damaged checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "delete it to train that job again from the start"
        ) from None
    if not isinstance(state, dict) or "generator" not in state:
        raise GanbenchError(f"{path}: not a ganbench checkpoint (no generator weights)")
    return state


def network_weights(gan: GAN, discriminator: bool = True) -> dict[str, Any]:
    """The networks' state dicts under the names every ganbench checkpoint uses (the
    generator's moving average when the model keeps one)."""
    weights = {"generator": gan.generator.state_dict()}
    if discriminator:
        weights["discriminator"] = gan.discriminator.state_dict()
    if gan.ema_generator is not None:
        weights["generator_ema"] = gan.ema_generator.state_dict()
    return weights


def save_state(path: Path, state: dict[str, Any]) -> None:
    """torch.save, written atomically: a crash never leaves half a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_checkpoint(
    path: Path,
    step: int,
    gan: GAN,
    optimizers: list[torch.optim.Optimizer],
    batches,
    noise: Noise,
    record: TrainingRecord,
) -> None:
    save_state(
        path,
        {
            "step": step,
            **network_weights(gan),
            "optimizers": [opt.state_dict() for opt in optimizers],
            "batches": batches.state_dict(),
            "noise": noise.get_state(),
            "record": record.to_dict(),
        },
    )


def load_checkpoint(
    path: Path, gan: GAN, optimizers: list[torch.optim.Optimizer], batches, noise: Noise
) -> tuple[int, TrainingRecord]:
    state = read_checkpoint(path)
    gan.generator.load_state_dict(state["generator"])
    gan.discriminator.load_state_dict(state["discriminator"])
    if gan.ema_generator is not None:
        gan.ema_generator.load_state_dict(state["generator_ema"])
    for opt, opt_state in zip(optimizers, state["optimizers"], strict=True):
        opt.load_state_dict(opt_state)
    batches.load_state_dict(state["batches"])
    noise.set_state(state["noise"])
    return state["step"], TrainingRecord(**state["record"])


def save_generator(path: Path, gan: GAN, step: int, discriminator: bool = False) -> None:
    """The networks at `step` without the optimisers: an ensemble member's own checkpoint
    (with its discriminator, as a single run leaves), or the best step's generator."""
    save_state(path, {"step": step, **network_weights(gan, discriminator=discriminator)})
