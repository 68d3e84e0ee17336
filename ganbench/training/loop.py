"""One GAN training loop for points and images, CPU or GPU.

Throughput is measured inside the loop, on the steps after warm-up, with the
device synchronised at both ends of the timed window, so that the number is
what a user of the same loop would see and not the speed of kernel launches.
Checkpoints hold everything that determines the rest of the run (weights,
optimisers, data order, noise RNG, and the timing so far), so a resumed run
continues exactly where the interrupted one stopped; its throughput is the
timed steps of every segment over their time (each segment warms up again).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import io
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.data.base import Dataset
from ganbench.options import TrainingOptions
from ganbench.progress import Progress
from ganbench.results import atomic_write_bytes, read_checkpoint
from ganbench.training.ensemble import StackedBatches
from ganbench.training.gan import GAN
from ganbench.training.losses import LOSSES, Loss, gradient_penalty

NOISE_SEED_OFFSET = 1_000_003


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run is stopped and reported, the others go on."""


@contextlib.contextmanager
def cuda_switches(device: torch.device, precision: str) -> Iterator[None]:
    """On CUDA, for training only: cuDNN picks the fastest convolution algorithms for the
    fixed batch shape (cudnn.benchmark), and "tf32" allows TensorFloat-32; the previous
    settings are restored after, so that evaluation keeps full fp32."""
    if device.type != "cuda":
        yield
        return
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    torch.backends.cudnn.benchmark = True
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        (
            torch.backends.cudnn.benchmark,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
        ) = saved


@dataclass
class TrainingRecord:
    """What a training run measured about itself, stored in the result fragment."""

    steps: int
    batch_size: int
    device: str
    seconds: float = 0.0
    #: Steps and seconds inside the timed windows (after warm-up, checkpoints excluded),
    #: summed over the segments of a resumed run.
    timed_steps: int = 0
    timed_seconds: float = 0.0
    #: None when no step was timed (a run of a single step): no measurement, never 0.
    samples_per_second: float | None = None
    peak_memory_mib: float | None = None
    #: "cuda_max_allocated" on a GPU; on the CPU "job_peak_rss" (Linux: the process's peak
    #: resident set size since this job's training began) or "process_max_rss" (elsewhere).
    memory_kind: str = ""
    precision: str = "fp32"
    compiled: bool = False
    channels_last: bool = False
    resumed_from: int | None = None
    #: The 1-minute load average at the end of each timed window (the highest), the CPUs
    #: and torch threads: throughput measured on a busy machine is not comparable.
    load_average: float | None = None
    cpu_count: int = 0
    threads: int = 0
    #: Seeds trained together (training/ensemble.py); losses are then lists per step.
    ensemble: int = 1
    #: Per ensemble member: why it diverged, or None.
    diverged: list[str | None] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    loss_d: list = field(default_factory=list)
    loss_g: list = field(default_factory=list)
    #: At the same steps as the losses: the mean discriminator logit on real and on
    #: generated samples (D(x), D(G(z)) before the sigmoid, or critic values), and the L2
    #: norms of D's and G's gradients (SIGNALS); per member in an ensemble.
    signals: dict[str, list] = field(default_factory=dict)
    #: Metrics measured during training (TrainingOptions.eval_every): "steps", "seconds"
    #: (training time so far) and "values" {key: [value per evaluated step]}.
    evaluations: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.diverged:
            self.diverged = [None] * self.ensemble

    def to_dict(self) -> dict:
        return asdict(self)

    def members(self) -> list[TrainingRecord]:
        """One record per ensemble member: its own losses, and its share of the throughput
        (the ensemble's samples/s divided by the members; `ensemble` says how it was
        measured, so it is never compared with a single run's as if alike)."""
        if self.ensemble == 1:
            return [self]
        return [
            replace(
                self,
                samples_per_second=(
                    None
                    if self.samples_per_second is None
                    else self.samples_per_second / self.ensemble
                ),
                diverged=[self.diverged[i]],
                loss_d=[d[i] for d in self.loss_d],
                loss_g=[g[i] for g in self.loss_g],
                loss_steps=list(self.loss_steps),
                signals={k: [v[i] for v in values] for k, values in self.signals.items()},
            )
            for i in range(self.ensemble)
        ]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: Linux: writing "5" here restarts the process's peak resident set size (VmHWM) from its
#: current size, so that a job's peak is its own and not the largest of every job before.
CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def memory_kind(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda_max_allocated"
    return "job_peak_rss" if CLEAR_REFS.exists() else "process_max_rss"


def reset_peak_memory(device: torch.device) -> None:
    """Starts this job's peak memory from now (what `memory_kind` says is measured). On the
    CPU the memory earlier jobs freed is first returned to the system (glibc keeps freed
    heap otherwise), so that it does not count in this job's resident set."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif CLEAR_REFS.exists():
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        with contextlib.suppress(OSError):
            CLEAR_REFS.write_text("5")


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Leaves the objects alive now (imported modules, the suite, the data) out of the
    collection that reset_peak_memory makes before each job: a full collection over torch's
    and matplotlib's objects took 0.3 s a job, as long as training a small model, and the
    run's estimate trains several probes. They are collected once here, and unfrozen after,
    so that a long-lived process (pytest, a notebook) collects them as before. A heap that
    its program froze itself is left as it is: unfreezing it is not ganbench's to do."""
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _peak_memory(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if CLEAR_REFS.exists():
        with contextlib.suppress(OSError, ValueError, StopIteration):
            line = next(x for x in STATUS.read_text().splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 2**10  # kB
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class Noise:
    """The latent noise streams, one generator per ensemble member, checkpointable."""

    def __init__(self, gan: GAN, device: torch.device, seeds: list[int]) -> None:
        self.gan = gan
        self.generators = [
            torch.Generator(device=device).manual_seed(s + NOISE_SEED_OFFSET) for s in seeds
        ]

    def __call__(self, n: int) -> torch.Tensor:
        if self.gan.ensemble == 1:
            return self.gan.latents(n, self.generators[0])
        return torch.stack([self.gan.latents(n, g) for g in self.generators])

    def interpolation_weights(self, like: torch.Tensor) -> torch.Tensor:
        """U(0, 1), one per sample (broadcast over its features), from each member's stream."""
        lead = 1 if self.gan.ensemble == 1 else 2
        shape = (like.shape[lead - 1], *([1] * (like.dim() - lead)))
        draws = [torch.rand(shape, generator=g, device=g.device) for g in self.generators]
        return draws[0] if self.gan.ensemble == 1 else torch.stack(draws)

    def get_state(self) -> torch.Tensor | list[torch.Tensor]:
        states = [g.get_state() for g in self.generators]
        return states[0] if self.gan.ensemble == 1 else states

    def set_state(self, state: torch.Tensor | list[torch.Tensor]) -> None:
        states = [state] if isinstance(state, torch.Tensor) else state
        for g, s in zip(self.generators, states, strict=True):
            g.set_state(s)


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


def _step(
    gan: GAN,
    networks: tuple[nn.Module, nn.Module],
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    batches,
    noise: Noise,
    samples: int,
    autocast,
    observe: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One training step; returns the discriminator's and generator's losses (one per member)
    and, when `observe`, the SIGNALS stacked (read back with the losses, so that watching
    D costs no extra host sync, and nothing at the steps that are not logged).

    Alternating: `n_critic` D steps (fresh data and latents each), then `g_steps` G steps
    against the updated D (the DCGAN and WGAN-GP recipes). Simultaneous: both gradients
    from one forward pass at the same parameters, then both steps (ALI's algorithm, used
    by PacGAN's and VEEGAN's code)."""
    loss = gan.loss if isinstance(gan.loss, Loss) else LOSSES[gan.loss]
    generator, discriminator = networks
    g_opt, d_opt = optimizers
    members = gan.ensemble > 1
    simultaneous = gan.updates == "simultaneous"

    def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal real_mean
        with autocast:
            real_logits = discriminator(real)
            fake_logits = discriminator(fake if simultaneous else fake.detach())
        d_loss = loss.discriminator(real_logits.float(), fake_logits.float())
        if observe:
            real_mean = real_logits.detach().float().mean(-1)
        if loss.penalty:
            eps = noise.interpolation_weights(real)
            d_loss = d_loss + gan.gp_weight * gradient_penalty(
                discriminator, real, fake, eps, gan.packing, members
            )
        return d_loss, fake_logits

    real_mean = torch.empty(0)

    def signals(fake_logits: torch.Tensor, d_norm: torch.Tensor) -> torch.Tensor | None:
        if not observe:
            return None
        fake_mean = fake_logits.detach().float().mean(-1)
        g_norm = _grad_norm(gan.generator.parameters(), members, real_mean.device)
        return torch.stack([real_mean, fake_mean, d_norm, g_norm])

    real, latents = batches(), noise(samples)
    with autocast:
        fake = generator(latents)
    if simultaneous:
        d_loss, fake_logits = critic_loss(real, fake)
        g_loss = loss.generator(fake_logits.float())
        d_params = list(gan.discriminator.parameters())
        g_params = list(gan.generator.parameters())
        d_grads = torch.autograd.grad(d_loss.sum(), d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss.sum(), g_params)
        for params, grads in ((d_params, d_grads), (g_params, g_grads)):
            for p, g in zip(params, grads, strict=True):
                p.grad = g
        observed = signals(
            fake_logits, _grad_norm(d_params, members, real.device) if observe else None
        )
        d_opt.step()
        g_opt.step()
        return d_loss.detach(), g_loss.detach(), observed

    for critic_step in range(gan.n_critic):
        if critic_step:
            real, latents = batches(), noise(samples)
            with autocast:
                fake = generator(latents)
        d_loss, critic_fake_logits = critic_loss(real, fake)
        d_opt.zero_grad(set_to_none=True)
        d_loss.sum().backward()
        d_opt.step()
    # Before G's backward pass, which adds its own gradient to D's parameters.
    d_norm = _grad_norm(gan.discriminator.parameters(), members, real.device) if observe else None
    for repeat in range(gan.g_steps):
        with autocast:
            if repeat:  # the same latents through the updated generator
                fake = generator(latents)
            fake_logits = discriminator(fake)
        g_loss = loss.generator(fake_logits.float())
        g_opt.zero_grad(set_to_none=True)
        g_loss.sum().backward()
        g_opt.step()
    return d_loss.detach(), g_loss.detach(), signals(critic_fake_logits, d_norm)


#: What TrainingRecord.signals holds, in the order _step stacks them.
SIGNALS = ("d_real", "d_fake", "grad_norm_d", "grad_norm_g")


def _grad_norm(parameters, members: bool, device: torch.device) -> torch.Tensor:
    """The L2 norm of all gradients together (per member: over every dimension but the
    leading one), computed on the device."""
    grads = [p.grad.detach().float() for p in parameters if p.grad is not None]
    if not grads:  # nothing trainable (a fixed generator under test)
        return torch.zeros((), device=device)
    if members:
        return torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()
    return torch.stack([g.square().sum() for g in grads]).sum().sqrt()


@torch.no_grad()
def _update_average(average: nn.Module, current: nn.Module, decay: float) -> None:
    """average <- decay x average + (1 - decay) x current; buffers (batch-norm statistics)
    are copied, as they are not trained."""
    for a, c in zip(average.parameters(), current.parameters(), strict=True):
        a.lerp_(c, 1 - decay)
    for a, c in zip(average.buffers(), current.buffers(), strict=True):
        a.copy_(c)


def train(
    gan: GAN,
    data: Dataset,
    *,
    steps: int,
    batch_size: int,
    device: torch.device,
    seed: int | Sequence[int],
    options: TrainingOptions = TrainingOptions(),
    checkpoint: Path | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
    on_evaluate: Callable[[int, TrainingRecord], None] | None = None,
    label: str = "train",
    log_points: int = 100,
) -> TrainingRecord:
    """Trains `gan` on `data` with its loss, update rule and Adam settings.

    Args:
        steps: generator updates (each with one discriminator update).
        batch_size: discriminator examples per step; each is `gan.packing` samples.
        seed: seeds the data stream and the latent noise; the caller seeds weight init.
            An ensemble (gan.ensemble > 1) takes one seed per member.
        checkpoint: file to save to (every `options.checkpoint_every` steps and at the end)
            and, if it exists, to resume from.
        on_checkpoint: called with the step after each checkpoint (sample grids).
        on_evaluate: called every `options.eval_every` steps and at the end, outside the
            timed window and with the random number generators' state restored after, so
            that measuring during training changes neither its result nor its throughput;
            it adds its measurements to `record.evaluations`, saved in the next checkpoint.
        log_points: how many times losses are read back (each read syncs the GPU).

    Raises:
        TrainingDiverged: a loss became NaN or infinite (a single run; an ensemble records
            the step in `diverged` for that member and trains the others on).
    """
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if len(seeds) != gan.ensemble:
        raise ValueError(f"{len(seeds)} seeds for an ensemble of {gan.ensemble}")
    images = len(data.sample_shape) == 3
    channels_last = options.channels_last and images and gan.ensemble == 1
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    gan.generator.to(device, memory_format=memory_format)
    gan.discriminator.to(device, memory_format=memory_format)
    fused = device.type == "cuda"  # one kernel per optimiser step instead of one per tensor
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=gan.lr_g, betas=gan.betas, fused=fused)
    d_opt = torch.optim.Adam(
        gan.discriminator.parameters(), lr=gan.lr_d, betas=gan.betas, fused=fused
    )
    samples_per_step = batch_size * gan.packing
    sources = [data.sampler(samples_per_step, device, s) for s in seeds]
    batches = sources[0] if gan.ensemble == 1 else StackedBatches(sources)
    if channels_last:
        batches.channels_last = True
    noise = Noise(gan, device, seeds)

    record = TrainingRecord(
        steps,
        batch_size,
        str(device),
        precision=options.precision,
        compiled=options.compile,
        channels_last=channels_last,
        ensemble=gan.ensemble,
        memory_kind=memory_kind(device),
    )
    if gan.ema and gan.ema_generator is None:
        gan.ema_generator = copy.deepcopy(gan.generator)
    first = 1
    if checkpoint is not None and checkpoint.is_file():
        done, record = load_checkpoint(checkpoint, gan, [g_opt, d_opt], batches, noise)
        record.resumed_from, first = done, done + 1
        print(f"{label}: resuming from the checkpoint at step {done}", file=sys.stderr)
        if device.type == "cpu" and record.threads not in (0, torch.get_num_threads()):
            # Steps timed on other threads would mix with this segment's into one figure.
            print(
                f"{label}: the checkpoint's steps were timed on {record.threads} torch "
                f"threads and these run on {torch.get_num_threads()}: throughput is timed "
                "on this segment only",
                file=sys.stderr,
            )
            record.timed_steps, record.timed_seconds, record.samples_per_second = 0, 0.0, None
    generator, discriminator = gan.generator, gan.discriminator
    if options.compile:
        generator, discriminator = (
            torch.compile(network, mode=options.compile_mode)
            for network in (generator, discriminator)
        )
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if options.precision == "bf16"
        else contextlib.nullcontext()
    )
    reset_peak_memory(device)

    remaining = steps - first + 1
    warmup_end = first - 1 + (min(max(remaining // 10, 1), 50) if remaining > 1 else 0)
    log_every = max(steps // log_points, 1)
    every = options.checkpoint_every
    progress = Progress(label, steps)
    segment_start = time.perf_counter()
    window: tuple[int, float] | None = None  # (last untimed step, its time)

    def close_window(step: int) -> None:
        """Adds this segment's time, and the timed steps since the window opened, to the
        record (synchronised), so that a checkpoint carries the timing so far."""
        nonlocal segment_start
        synchronize(device)
        now = time.perf_counter()
        record.seconds += now - segment_start
        segment_start = now
        if window is not None and step > window[0]:
            record.timed_steps += step - window[0]
            record.timed_seconds += now - window[1]
            record.samples_per_second = (
                record.timed_steps * samples_per_step * gan.ensemble / record.timed_seconds
            )
            record.peak_memory_mib = max(_peak_memory(device), record.peak_memory_mib or 0.0)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            if load is not None:
                record.load_average = max(load, record.load_average or 0.0)
            record.cpu_count, record.threads = os.cpu_count() or 0, torch.get_num_threads()

    evaluate_every = options.eval_every if on_evaluate is not None else 0
    with cuda_switches(device, options.precision):
        for step in range(first, steps + 1):
            logged = step % log_every == 0 or step == steps
            d_loss, g_loss, observed = _step(
                gan,
                (generator, discriminator),
                (g_opt, d_opt),
                batches,
                noise,
                samples_per_step,
                autocast,
                observe=logged,
            )
            if gan.ema_generator is not None:
                _update_average(gan.ema_generator, gan.generator, gan.ema)
            if step == warmup_end:
                synchronize(device)
                window = (step, time.perf_counter())
            if logged:
                _log_losses(record, step, d_loss, g_loss, observed)
                if step < steps:
                    progress.update(
                        step, f"D {_mean(record.loss_d):.3f}  G {_mean(record.loss_g):.3f}"
                    )
            evaluating = evaluate_every and (step % evaluate_every == 0 or step == steps)
            saving = checkpoint is not None and every and step % every == 0
            if step == steps or saving or evaluating:
                close_window(step)
                if evaluating:
                    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                        on_evaluate(step, record)
                if checkpoint is not None:  # checkpoints are not training time
                    save_checkpoint(checkpoint, step, gan, [g_opt, d_opt], batches, noise, record)
                    if on_checkpoint is not None:
                        on_checkpoint(step)
                segment_start = time.perf_counter()
                if window is not None:
                    window = (step, segment_start)

    progress.close(
        f"D {_mean(record.loss_d):.3f}  G {_mean(record.loss_g):.3f}"
        + (
            f"  {record.samples_per_second:,.0f} samples/s"
            if record.samples_per_second is not None
            else ""
        )
    )
    return record


def _mean(series: list) -> float:
    """The last logged loss (averaged over ensemble members that have not diverged)."""
    last = series[-1] if series else math.nan
    if isinstance(last, list):
        finite = [v for v in last if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan
    return last


def _log_losses(
    record: TrainingRecord,
    step: int,
    d_loss: torch.Tensor,
    g_loss: torch.Tensor,
    observed: torch.Tensor | None = None,
) -> None:
    d, g = d_loss.tolist(), g_loss.tolist()
    if observed is not None:
        for name, values in zip(SIGNALS, observed.tolist(), strict=True):
            record.signals.setdefault(name, []).append(values)
    if record.ensemble == 1:
        if not (math.isfinite(d) and math.isfinite(g)):
            raise TrainingDiverged(
                f"loss is not finite at step {step} "
                f"(D {d}, G {g}); lower the learning rate or check the data"
            )
    else:
        for i, (di, gi) in enumerate(zip(d, g, strict=True)):
            if not (math.isfinite(di) and math.isfinite(gi)) and record.diverged[i] is None:
                record.diverged[i] = (
                    f"loss is not finite at step {step} (D {di}, G {gi}); "
                    "lower the learning rate or check the data"
                )
    record.loss_steps.append(step)
    record.loss_d.append(d)
    record.loss_g.append(g)
