"""One GAN training loop for points and images, CPU or GPU.

Throughput is measured inside the loop, on the steps after warm-up, with the
device synchronised at both ends of the timed window, so that the number is
what a user of the same loop would see and not the speed of kernel launches.
Checkpoints hold everything that determines the rest of the run (weights,
optimisers, data order, noise RNG), so a resumed run continues exactly where
the interrupted one stopped.
"""

from __future__ import annotations

import contextlib
import io
import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ganbench.data.base import Dataset
from ganbench.progress import Progress
from ganbench.results import atomic_write_bytes
from ganbench.training.gan import GAN
from ganbench.training.losses import discriminator_loss, generator_loss

NOISE_SEED_OFFSET = 1_000_003


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run is stopped and reported, the others go on."""


@dataclass(frozen=True)
class TrainingOptions:
    """Speed switches, each measured (ganbench bench) before it is turned on by default."""

    #: "fp32", or "bf16" autocast on the forward passes (losses stay fp32).
    precision: str = "fp32"
    #: torch.compile the generator and discriminator.
    compile: bool = False
    #: channels_last memory format for image models and batches.
    channels_last: bool = True
    #: save a checkpoint every N steps (0: only at the end).
    checkpoint_every: int = 0


PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainingRecord:
    """What a training run measured about itself, stored in the result fragment."""

    steps: int
    batch_size: int
    device: str
    seconds: float = 0.0
    timed_steps: int = 0
    samples_per_second: float = 0.0
    peak_memory_mib: float = 0.0
    #: "cuda_max_allocated" on a GPU; on the CPU the process's peak resident set size.
    memory_kind: str = ""
    precision: str = "fp32"
    compiled: bool = False
    channels_last: bool = False
    resumed_from: int | None = None
    loss_steps: list[int] = field(default_factory=list)
    loss_d: list[float] = field(default_factory=list)
    loss_g: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10), "process_max_rss"


def save_checkpoint(
    path: Path,
    step: int,
    gan: GAN,
    optimizers: list[torch.optim.Optimizer],
    batches,
    noise: torch.Generator,
    record: TrainingRecord,
) -> None:
    buffer = io.BytesIO()
    torch.save(
        {
            "step": step,
            "generator": gan.generator.state_dict(),
            "discriminator": gan.discriminator.state_dict(),
            "optimizers": [opt.state_dict() for opt in optimizers],
            "batches": batches.state_dict(),
            "noise": noise.get_state(),
            "record": record.to_dict(),
        },
        buffer,
    )
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(
    path: Path, gan: GAN, optimizers: list[torch.optim.Optimizer], batches, noise: torch.Generator
) -> tuple[int, TrainingRecord]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    gan.generator.load_state_dict(state["generator"])
    gan.discriminator.load_state_dict(state["discriminator"])
    for opt, opt_state in zip(optimizers, state["optimizers"], strict=True):
        opt.load_state_dict(opt_state)
    batches.load_state_dict(state["batches"])
    noise.set_state(state["noise"])
    return state["step"], TrainingRecord(**state["record"])


def train(
    gan: GAN,
    data: Dataset,
    *,
    steps: int,
    batch_size: int,
    device: torch.device,
    seed: int,
    options: TrainingOptions = TrainingOptions(),
    checkpoint: Path | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
    label: str = "train",
    log_points: int = 100,
) -> TrainingRecord:
    """Trains `gan` on `data` with the non-saturating loss and Adam, one D then one G step.

    Args:
        steps: generator updates (each preceded by one discriminator update).
        seed: seeds the data stream and the latent noise; the caller seeds weight init.
        checkpoint: file to save to (every `options.checkpoint_every` steps and at the end)
            and, if it exists, to resume from.
        on_checkpoint: called with the step after each checkpoint (sample grids).
        log_points: how many times losses are read back (each read syncs the GPU).

    Raises:
        TrainingDiverged: a loss became NaN or infinite.
    """
    images = len(data.sample_shape) == 3
    channels_last = options.channels_last and images
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    gan.generator.to(device, memory_format=memory_format)
    gan.discriminator.to(device, memory_format=memory_format)
    fused = device.type == "cuda"  # one kernel per optimiser step instead of one per tensor
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=gan.lr_g, betas=gan.betas, fused=fused)
    d_opt = torch.optim.Adam(
        gan.discriminator.parameters(), lr=gan.lr_d, betas=gan.betas, fused=fused
    )
    batches = data.sampler(batch_size, device, seed)
    if channels_last:
        batches.channels_last = True
    noise = torch.Generator(device=device).manual_seed(seed + NOISE_SEED_OFFSET)

    record = TrainingRecord(
        steps,
        batch_size,
        str(device),
        precision=options.precision,
        compiled=options.compile,
        channels_last=channels_last,
    )
    first = 1
    if checkpoint is not None and checkpoint.is_file():
        done, record = load_checkpoint(checkpoint, gan, [g_opt, d_opt], batches, noise)
        record.resumed_from, first = done, done + 1
        print(f"{label}: resuming from the checkpoint at step {done}", file=sys.stderr)
    generator, discriminator = gan.generator, gan.discriminator
    if options.compile:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if options.precision == "bf16"
        else contextlib.nullcontext()
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    remaining = steps - first + 1
    warmup_end = first - 1 + (min(max(remaining // 10, 1), 50) if remaining > 1 else 0)
    log_every = max(steps // log_points, 1)
    every = options.checkpoint_every
    progress = Progress(label, steps)
    start = timed_from = time.perf_counter()

    for step in range(first, steps + 1):
        real = batches()
        with autocast:
            fake = generator(gan.latents(batch_size, noise))
            real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits.float(), fake_logits.float())
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()

        with autocast:
            fake_logits = discriminator(fake)
        g_loss = generator_loss(fake_logits.float())
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()

        if step == warmup_end:
            synchronize(device)
            timed_from = time.perf_counter()
        if step % log_every == 0 or step == steps:
            d, g = d_loss.item(), g_loss.item()
            if not (math.isfinite(d) and math.isfinite(g)):
                raise TrainingDiverged(
                    f"{label}: loss is not finite at step {step} "
                    f"(D {d}, G {g}); lower the learning rate or check the data"
                )
            record.loss_steps.append(step)
            record.loss_d.append(d)
            record.loss_g.append(g)
            if step < steps:
                progress.update(step, f"D {d:.3f}  G {g:.3f}")
        if checkpoint is not None and ((every and step % every == 0) or step == steps):
            synchronize(device)
            paused = time.perf_counter()
            save_checkpoint(checkpoint, step, gan, [g_opt, d_opt], batches, noise, record)
            if on_checkpoint is not None:
                on_checkpoint(step)
            timed_from += time.perf_counter() - paused  # checkpoints are not training time

    synchronize(device)
    end = time.perf_counter()
    record.seconds += end - start
    timed = steps - warmup_end
    if timed > 0:
        record.timed_steps = timed
        record.samples_per_second = timed * batch_size / max(end - timed_from, 1e-9)
        record.peak_memory_mib, record.memory_kind = _peak_memory(device)
    progress.close(
        f"D {record.loss_d[-1]:.3f}  G {record.loss_g[-1]:.3f}  "
        f"{record.samples_per_second:,.0f} samples/s"
    )
    return record
