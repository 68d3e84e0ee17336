"""One GAN training loop for points and images, CPU or GPU.

Throughput is measured inside the loop, on the steps after warm-up, with the
device synchronised at both ends of the timed window, so that the number is
what a user of the same loop would see and not the speed of kernel launches.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

import torch

from ganbench.data.base import Dataset
from ganbench.progress import Progress
from ganbench.training.gan import GAN
from ganbench.training.losses import discriminator_loss, generator_loss


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run is stopped and reported, the others go on."""


@dataclass
class TrainingRecord:
    """What a training run measured about itself, stored in the result fragment."""

    steps: int
    batch_size: int
    device: str
    seconds: float
    timed_steps: int
    samples_per_second: float
    peak_memory_mib: float
    #: "cuda_max_allocated" on a GPU; on the CPU the process's peak resident set size.
    memory_kind: str
    loss_steps: list[int] = field(default_factory=list)
    loss_d: list[float] = field(default_factory=list)
    loss_g: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10), "process_max_rss"


def train(
    gan: GAN,
    data: Dataset,
    *,
    steps: int,
    batch_size: int,
    device: torch.device,
    seed: int,
    label: str = "train",
    log_points: int = 100,
) -> TrainingRecord:
    """Trains `gan` on `data` with the non-saturating loss and Adam, one D then one G step.

    Args:
        steps: generator updates (each preceded by one discriminator update).
        seed: seeds the data stream and the latent noise; the caller seeds weight init.
        log_points: how many times losses are read back (each read syncs the GPU).

    Raises:
        TrainingDiverged: a loss became NaN or infinite.
    """
    gan.to(device)
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=gan.lr_g, betas=gan.betas)
    d_opt = torch.optim.Adam(gan.discriminator.parameters(), lr=gan.lr_d, betas=gan.betas)
    next_batch = data.sampler(batch_size, device, seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1_000_003)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    warmup = min(max(steps // 10, 1), 50) if steps > 1 else 0
    log_every = max(steps // log_points, 1)
    record = TrainingRecord(steps, batch_size, str(device), 0.0, 0, 0.0, 0.0, "")
    progress = Progress(label, steps)
    start = timed_from = time.perf_counter()

    for step in range(1, steps + 1):
        real = next_batch()
        fake = gan.generator(gan.latents(batch_size, noise))
        d_loss = discriminator_loss(gan.discriminator(real), gan.discriminator(fake.detach()))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()

        g_loss = generator_loss(gan.discriminator(fake))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()

        if step == warmup:
            _synchronize(device)
            timed_from = time.perf_counter()
        if step % log_every == 0 or step == steps:
            d, g = d_loss.item(), g_loss.item()
            if not (math.isfinite(d) and math.isfinite(g)):
                raise TrainingDiverged(
                    f"{label}: loss is {d if not math.isfinite(d) else g} "
                    f"at step {step} (D {d}, G {g})"
                )
            record.loss_steps.append(step)
            record.loss_d.append(d)
            record.loss_g.append(g)
            if step < steps:
                progress.update(step, f"D {d:.3f}  G {g:.3f}")

    _synchronize(device)
    end = time.perf_counter()
    record.seconds = end - start
    record.timed_steps = steps - warmup
    record.samples_per_second = record.timed_steps * batch_size / max(end - timed_from, 1e-9)
    record.peak_memory_mib, record.memory_kind = _peak_memory(device)
    progress.close(
        f"D {record.loss_d[-1]:.3f}  G {record.loss_g[-1]:.3f}  "
        f"{record.samples_per_second:,.0f} samples/s"
    )
    return record
