"""Where near-copy detection stops (docs/diagnostics.md's table): the memorisation metric as
`ganbench eval --dataset mnist --metrics memorisation --metric memorisation:samples=2000`
measures it (all 60,000 training digits searched; 2,000 held-out test digits), on
generators that return MNIST training digits changed in one way each (shifts, noise, blur,
contrast), at quantile 0.01 (the default) and 0.04; and on one that returns test digits the
metric does not hold out, which should be flagged at about the quantile.

    OMP_NUM_THREADS=1 python -m tests.memorisation_sweep [--samples N] [--only CASE ...]

One metric instance per quantile serves every case, as in a suite run (the training
digits' features and the held-out distances are computed once); each case is measured as
`evaluate_generator` measures a generator (tests/test_diagnostics.py holds the two equal).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.images import to_model_space
from ganbench.metrics.base import EvalContext
from ganbench.metrics.memorisation import spread_evenly
from ganbench.registry import METRICS, build_dataset
from ganbench.training.gan import GAN

QUANTILES = (0.01, 0.04)
#: The table's sample count: issue 41 #16's `memorisation:samples=2000`.
SAMPLES = 2000


def shifted(dy: int, dx: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: torch.roll(x, (dy, dx), dims=(-2, -1))  # MNIST's borders are black


def gaussian_blur(sigma: float) -> Callable[[torch.Tensor], torch.Tensor]:
    radius = int(3 * sigma)
    t = torch.arange(-radius, radius + 1).float()
    g = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = (g[:, None] * g[None, :] / g.sum() ** 2).view(1, 1, 2 * radius + 1, 2 * radius + 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        blurred = F.conv2d(F.pad(x.float(), (radius,) * 4, mode="replicate"), kernel)
        return blurred.round().clamp(0, 255).to(torch.uint8)

    return blur


def box_blur(x: torch.Tensor) -> torch.Tensor:
    padded = F.pad(x.float(), (1,) * 4, mode="replicate")
    return F.avg_pool2d(padded, 3, stride=1).round().clamp(0, 255).to(torch.uint8)


def affine(gain: float, offset: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: (x.float() * gain + offset).round().clamp(0, 255).to(torch.uint8)


def unchanged(x: torch.Tensor) -> torch.Tensor:
    return x


class Copies(nn.Module):
    """A generator that returns `images` (any of them, picked by the first latent), changed
    by `change` (uint8 -> uint8), plus Gaussian noise of std `noise` / 255 in [-1, 1] (the
    other 784 latents times noise / 127.5), clamped to [-1, 1]: a copier as a user writes
    one (issue 41 #16's N(0, 0.3) in [-1, 1] is noise 38.25)."""

    latent_dim = 1 + 28 * 28

    def __init__(self, images: torch.Tensor, change=unchanged, noise: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.change = change
        self.noise = noise

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        index = (z[:, 0].abs() * 1e6).long() % len(self.images)
        x = to_model_space(self.change(self.images[index]))
        if self.noise:
            x = (x + z[:, 1:].view_as(x) * (self.noise / 127.5)).clamp(-1, 1)
        return x


#: name -> (change, noise std / 255); the rows of docs/diagnostics.md's table.
CASES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "exact": (unchanged, 0.0),
    **{f"noise of std {s}": (unchanged, float(s)) for s in (10, 15, 20, 25, 30)},
    "noise of std 38 (N(0, 0.3) in [-1, 1])": (unchanged, 38.25),
    **{f"noise of std {s}": (unchanged, float(s)) for s in (45, 50)},
    "shifted 1 px": (shifted(1, 0), 0.0),
    "shifted 2 px diagonally": (shifted(2, 2), 0.0),
    "shifted 3 px": (shifted(3, 0), 0.0),
    "shifted 1 px with noise 20": (shifted(1, 0), 20.0),
    "Gaussian blur σ 0.5 px": (gaussian_blur(0.5), 0.0),
    "Gaussian blur σ 0.7 px": (gaussian_blur(0.7), 0.0),
    "Gaussian blur σ 1 px": (gaussian_blur(1.0), 0.0),
    "3x3 box blur": (box_blur, 0.0),
    "contrast x0.6, brightness +40": (affine(0.6, 40), 0.0),
}
#: The row of test digits the metric does not hold out.
FRESH = "fresh test digits"


def generator(name: str, data, samples: int) -> Copies:
    """The generator of a case, or of FRESH: the test digits other than the `samples`
    held out (the metric's spread_evenly)."""
    if name == FRESH:
        kept = torch.ones(len(data.test.images), dtype=torch.bool)
        kept[spread_evenly(samples, len(data.test.images))] = False
        return Copies(data.test.images[kept])
    change, noise = CASES[name]
    return Copies(data.train.images, change, noise)


def measure(metric, copies: Copies, data, seed: int = 0) -> float:
    """memorised_fraction of `copies` as evaluate_generator measures it."""
    gan = GAN(copies, nn.Identity(), copies.latent_dim, lr_g=0.0, lr_d=0.0)
    return metric(EvalContext(gan, data, training=None, seed=seed))["memorised_fraction"].value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--only", action="append", default=[], help="a case (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.only or [*CASES, FRESH]
    data = build_dataset("mnist")
    factory = METRICS.get("memorisation").factory
    metrics = [factory(samples=args.samples, quantile=q) for q in QUANTILES]
    start = time.monotonic()
    print(f"| copies of training digits | flagged at quantile {' / '.join(map(str, QUANTILES))} |")
    print("| --- | --- |")
    for name in names:
        copies = generator(name, data, args.samples)
        flagged = [measure(metric, copies, data) for metric in metrics]
        print(f"| {name} | {' / '.join(f'{f:.3f}' for f in flagged)} |", flush=True)
    print(f"({args.samples} samples, {(time.monotonic() - start) / 60:.1f} min)")


if __name__ == "__main__":
    main()
