"""One GAN training loop for points and images, CPU or GPU: `train`, and the step it
repeats.

Throughput is measured inside the loop (timing.py), on the steps after warm-up, with the
device synchronised at both ends of the timed window, so that the number is what a user
of the same loop would see and not the speed of kernel launches. Checkpoints
(checkpoint.py) hold everything that determines the rest of the run, so a resumed run
continues exactly where the interrupted one stopped; its throughput is the timed steps of
every segment over their time (each segment warms up again), or of the last segment alone
when it runs on another number of CPU threads.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.data.base import Dataset
from ganbench.options import TrainingOptions
from ganbench.runtime.progress import Progress
from ganbench.training.checkpoint import load_checkpoint, save_checkpoint
from ganbench.training.ensemble import StackedBatches
from ganbench.training.gan import GAN
from ganbench.training.losses import LOSSES, Loss, gradient_penalty
from ganbench.training.noise import Noise
from ganbench.training.record import (
    TrainingRecord,
    last_loss,
    log_losses,
)
from ganbench.training.timing import (
    StepTimer,
    cuda_switches,
    discard_timing,
    memory_kind,
    reset_peak_memory,
    timed_on_other_threads,
)


class _Critic:
    """The discriminator's side of a step: its loss (with the gradient penalty where the
    loss has one) and, when observed, the SIGNALS: the mean real and fake logits and both
    gradient norms, stacked on the device and read back with the losses."""

    def __init__(self, gan: GAN, discriminator: nn.Module, noise: Noise, autocast, observe: bool):
        self.gan, self.discriminator, self.noise = gan, discriminator, noise
        self.autocast, self.observe = autocast, observe
        self.loss = gan.loss if isinstance(gan.loss, Loss) else LOSSES[gan.loss]
        self.members = gan.ensemble > 1
        self.real_mean = torch.empty(0)

    def __call__(
        self, real: torch.Tensor, fake: torch.Tensor, detach: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's loss on a real and a fake batch, and its logits on the fake one."""
        with self.autocast:
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake.detach() if detach else fake)
        d_loss = self.loss.discriminator(real_logits.float(), fake_logits.float())
        if self.observe:
            self.real_mean = real_logits.detach().float().mean(-1)
        if self.loss.penalty:
            eps = self.noise.interpolation_weights(real)
            d_loss = d_loss + self.gan.gp_weight * gradient_penalty(
                self.discriminator, real, fake, eps, self.gan.packing, self.members
            )
        return d_loss, fake_logits

    def norm(self, parameters, device: torch.device) -> torch.Tensor | None:
        return _grad_norm(parameters, self.members, device) if self.observe else None

    def signals(self, fake_logits: torch.Tensor, d_norm: torch.Tensor) -> torch.Tensor | None:
        if not self.observe:
            return None
        fake_mean = fake_logits.detach().float().mean(-1)
        g_norm = _grad_norm(self.gan.generator.parameters(), self.members, self.real_mean.device)
        return torch.stack([self.real_mean, fake_mean, d_norm, g_norm])


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
    generator, discriminator = networks
    critic = _Critic(gan, discriminator, noise, autocast, observe)
    real, latents = batches(), noise(samples)
    with autocast:
        fake = generator(latents)
    if gan.updates == "simultaneous":
        return _simultaneous(gan, critic, optimizers, real, fake)
    g_opt, d_opt = optimizers
    for critic_step in range(gan.n_critic):
        if critic_step:
            real, latents = batches(), noise(samples)
            with autocast:
                fake = generator(latents)
        d_loss, critic_fake_logits = critic(real, fake, detach=True)
        d_opt.zero_grad(set_to_none=True)
        d_loss.sum().backward()
        d_opt.step()
    # Before G's backward pass, which adds its own gradient to D's parameters.
    d_norm = critic.norm(gan.discriminator.parameters(), real.device)
    for repeat in range(gan.g_steps):
        with autocast:
            if repeat:  # the same latents through the updated generator
                fake = generator(latents)
            fake_logits = discriminator(fake)
        g_loss = critic.loss.generator(fake_logits.float())
        g_opt.zero_grad(set_to_none=True)
        g_loss.sum().backward()
        g_opt.step()
    return d_loss.detach(), g_loss.detach(), critic.signals(critic_fake_logits, d_norm)


def _simultaneous(
    gan: GAN,
    critic: _Critic,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    real: torch.Tensor,
    fake: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Both networks' gradients at the same parameters, from one forward pass, then both
    optimiser steps."""
    d_loss, fake_logits = critic(real, fake, detach=False)
    g_loss = critic.loss.generator(fake_logits.float())
    d_params = list(gan.discriminator.parameters())
    g_params = list(gan.generator.parameters())
    d_grads = torch.autograd.grad(d_loss.sum(), d_params, retain_graph=True)
    g_grads = torch.autograd.grad(g_loss.sum(), g_params)
    for params, grads in ((d_params, d_grads), (g_params, g_grads)):
        for p, g in zip(params, grads, strict=True):
            p.grad = g
    observed = critic.signals(fake_logits, critic.norm(d_params, real.device))
    g_opt, d_opt = optimizers
    d_opt.step()
    g_opt.step()
    return d_loss.detach(), g_loss.detach(), observed


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
        steps: training steps, each `gan.n_critic` discriminator updates and
            `gan.g_steps` generator updates (or one simultaneous update of both).
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
    loop, first = _prepared(gan, data, steps, batch_size, device, seeds, options, checkpoint, label)
    record, samples_per_step = loop.record, loop.samples
    reset_peak_memory(device)
    timer = StepTimer(record, device, first, steps, samples_per_step * gan.ensemble)
    log_every = max(steps // log_points, 1)
    progress = Progress(label, steps)
    evaluate_every = options.eval_every if on_evaluate is not None else 0
    with cuda_switches(device, options.precision):
        for step in range(first, steps + 1):
            logged = step % log_every == 0 or step == steps
            losses = loop.step(observe=logged)
            timer.stepped(step)
            if logged:
                log_losses(record, step, *losses)
                if step < steps:
                    progress.update(step, _losses_line(record))
            evaluating = evaluate_every and (step % evaluate_every == 0 or step == steps)
            every = options.checkpoint_every
            saving = checkpoint is not None and every and step % every == 0
            if step == steps or saving or evaluating:
                timer.pause(step)  # evaluations and checkpoints are not training time
                if evaluating:
                    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                        on_evaluate(step, record)
                if checkpoint is not None:
                    loop.save(checkpoint, step, on_checkpoint)
                timer.resume(step)
    speed = record.samples_per_second
    progress.close(
        _losses_line(record) + (f"  {speed:,.0f} samples/s" if speed is not None else "")
    )
    return record


@dataclass
class _Loop:
    """What every step of `train` works on: the GAN and the networks it steps (compiled or
    not), their optimisers (generator's, discriminator's), the data and latent streams,
    the precision's autocast and the record a checkpoint saves."""

    gan: GAN
    networks: tuple[nn.Module, nn.Module]
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer]
    batches: Any
    noise: Noise
    samples: int
    autocast: Any
    record: TrainingRecord

    def step(self, observe: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One training step (its losses, and its signals when `observe`), then the
        generator's moving average."""
        gan = self.gan
        losses = _step(
            gan,
            self.networks,
            self.optimizers,
            self.batches,
            self.noise,
            self.samples,
            self.autocast,
            observe=observe,
        )
        if gan.ema_generator is not None:
            _update_average(gan.ema_generator, gan.generator, gan.ema)
        return losses

    def save(self, path: Path, step: int, on_checkpoint: Callable[[int], None] | None) -> None:
        optimizers = list(self.optimizers)
        save_checkpoint(path, step, self.gan, optimizers, self.batches, self.noise, self.record)
        if on_checkpoint is not None:
            on_checkpoint(step)


def _prepared(
    gan: GAN,
    data: Dataset,
    steps: int,
    batch_size: int,
    device: torch.device,
    seeds: list[int],
    options: TrainingOptions,
    checkpoint: Path | None,
    label: str,
) -> tuple[_Loop, int]:
    """The loop's parts placed on the device, a new record or the checkpoint's state and
    record, and the first step to train."""
    samples_per_step = batch_size * gan.packing
    g_opt, d_opt, batches, channels_last = _placed(
        gan, data, device, options, seeds, samples_per_step
    )
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
        record = _resumed(checkpoint, gan, [g_opt, d_opt], batches, noise, device, label)
        first = record.resumed_from + 1
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if options.precision == "bf16"
        else contextlib.nullcontext()
    )
    networks = _compiled(gan, options)
    optimizers = (g_opt, d_opt)
    return _Loop(
        gan, networks, optimizers, batches, noise, samples_per_step, autocast, record
    ), first


def _compiled(gan: GAN, options: TrainingOptions) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator as the loop calls them: torch.compile'd when asked."""
    if not options.compile:
        return gan.generator, gan.discriminator
    return tuple(
        torch.compile(network, mode=options.compile_mode)
        for network in (gan.generator, gan.discriminator)
    )


def _losses_line(record: TrainingRecord) -> str:
    return f"D {last_loss(record.loss_d):.3f}  G {last_loss(record.loss_g):.3f}"


def _placed(
    gan: GAN,
    data: Dataset,
    device: torch.device,
    options: TrainingOptions,
    seeds: list[int],
    samples: int,
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer, Any, bool]:
    """The networks on the device (channels_last for images, not for stacked ensembles),
    their Adam optimisers (fused on CUDA: one kernel per step instead of one per tensor)
    and the data stream of each seed."""
    channels_last = options.channels_last and len(data.sample_shape) == 3 and gan.ensemble == 1
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    gan.generator.to(device, memory_format=memory_format)
    gan.discriminator.to(device, memory_format=memory_format)
    fused = device.type == "cuda"
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=gan.lr_g, betas=gan.betas, fused=fused)
    d_opt = torch.optim.Adam(
        gan.discriminator.parameters(), lr=gan.lr_d, betas=gan.betas, fused=fused
    )
    sources = [data.sampler(samples, device, s) for s in seeds]
    batches = sources[0] if gan.ensemble == 1 else StackedBatches(sources)
    if channels_last:
        batches.channels_last = True
    return g_opt, d_opt, batches, channels_last


def _resumed(
    checkpoint: Path,
    gan: GAN,
    optimizers: list[torch.optim.Optimizer],
    batches: Any,
    noise: Noise,
    device: torch.device,
    label: str,
) -> TrainingRecord:
    """The state of an interrupted run, loaded into the networks, optimisers and streams;
    its record, whose timing this segment continues (or restarts, on other threads)."""
    done, record = load_checkpoint(checkpoint, gan, optimizers, batches, noise)
    record.resumed_from = done
    print(f"{label}: resuming from the checkpoint at step {done}", file=sys.stderr)
    if timed_on_other_threads(record, device):
        print(
            f"{label}: the checkpoint's steps were timed on {record.threads} torch threads "
            f"and these run on {torch.get_num_threads()}: throughput is timed on this "
            "segment only",
            file=sys.stderr,
        )
        discard_timing(record)
    return record
