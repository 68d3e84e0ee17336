"""How a suite may train: the options of [training] and the training procedure any model
takes. Plain values, apart from the code that acts on them, so that reading and checking a
suite (ganbench validate, ls) does not import torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The losses of ganbench.training.losses.LOSSES (a test holds the two equal).
LOSS_NAMES = ("ns", "minimax", "hinge", "lsgan", "wgan-gp")
UPDATES = ("alternating", "simultaneous")
LATENTS = ("normal", "uniform")

#: How a GAN is trained, settable on any model in a suite (`[[models]] loss = "hinge"`),
#: built-in or a user's, without its factory knowing: name -> (default, valid choices).
PROCEDURE: dict[str, tuple[Any, tuple | None]] = {
    "loss": ("ns", LOSS_NAMES),
    "updates": ("alternating", UPDATES),
    "n_critic": (1, None),
    "g_steps": (1, None),
    "gp_weight": (10.0, None),
    "latent": ("normal", LATENTS),
    "ema": (0.0, None),
    "spectral_norm": (False, None),
}


@dataclass(frozen=True)
class TrainingOptions:
    """A suite's [training] table: speed switches (each measured with ganbench bench before
    it is on by default), checkpoints, ensembles, measuring during training and the
    resources of a Ray task."""

    #: "fp32"; "bf16" autocast on the forward passes (losses stay fp32); "tf32": fp32 with
    #: TensorFloat-32 matmuls and convolutions on CUDA (no effect on a CPU).
    precision: str = "fp32"
    #: torch.compile the generator and discriminator.
    compile: bool = False
    #: torch.compile's mode: "default", "reduce-overhead" (CUDA graphs: fewer launches for
    #: these small, launch-bound networks) or "max-autotune".
    compile_mode: str = "default"
    #: channels_last memory format for image models and batches.
    channels_last: bool = True
    #: save a checkpoint every N steps (0: only at the end).
    checkpoint_every: int = 0
    #: train a (model, dataset)'s seeds together as one batched ensemble (models that
    #: support it, e.g. mlp-gan); each seed's numbers are those of training it alone.
    ensemble: bool = False
    #: measure metrics every N steps during training (0: only at the end), on the fixed
    #: latents each metric uses at the end: metric-vs-step curves and the best step.
    eval_every: int = 0
    #: the suite's metrics measured during training (empty: all of them but throughput).
    eval_metrics: tuple[str, ...] = ()
    #: measurement key -> threshold: the first evaluated step (and training seconds) at
    #: which the metric reaches it, as the measurements steps_to_KEY and seconds_to_KEY.
    steps_to: dict[str, float] = field(default_factory=dict)
    #: `--executor ray`: CPUs each job's task reserves (and its torch threads).
    job_cpus: int = 1
    #: `--executor ray` on CUDA: GPUs each job's task reserves (0.5: two jobs share one).
    job_gpus: float = 1.0


PRECISIONS = ("fp32", "bf16", "tf32")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


#: `ganbench bench --variants`: each a way of running the same training loop, timed against
#: the PyTorch-examples reference loop.
BENCH_VARIANTS = {
    "fp32": TrainingOptions(channels_last=False),
    "channels_last": TrainingOptions(channels_last=True),
    "bf16": TrainingOptions(channels_last=True, precision="bf16"),
    "compile": TrainingOptions(channels_last=True, compile=True),
    "bf16+compile": TrainingOptions(channels_last=True, precision="bf16", compile=True),
    "tf32": TrainingOptions(channels_last=True, precision="tf32"),
    "compile-reduce-overhead": TrainingOptions(
        channels_last=True, compile=True, compile_mode="reduce-overhead"
    ),
}
