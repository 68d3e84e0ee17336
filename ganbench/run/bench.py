"""`ganbench bench`: ganbench's DCGAN training step against the reference loop.

The reference is written the way the PyTorch examples' DCGAN is: a torchvision
dataset read through a DataLoader with workers, ToTensor + Normalize per
image, a host-to-device copy per batch, a Sigmoid + BCELoss discriminator,
fp32, and `.item()` on the losses every step. Both sides train the same
DCGAN architecture with the same batch size on the same device, and both are
timed the same way: after warm-up, device synchronised at both ends. Only the
ratio means anything across machines.

On a shared machine a neighbour's load lands on whichever loop runs at that
moment, so the loops run in interleaved rounds (reference, A, B, reference, A,
B, ...) and each round gives its own ratio; the median ratio and the range over
rounds are reported, with the load average and thread count they ran under.
"""

from __future__ import annotations

import contextlib
import functools
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganbench.data.idx import write_idx
from ganbench.data.images import ImageDataset
from ganbench.options import BENCH_VARIANTS, TrainingOptions
from ganbench.registry import METRICS, MODELS, build_dataset
from ganbench.suite import Budget, Suite
from ganbench.training.build import build_model
from ganbench.training.loop import train
from ganbench.training.timing import synchronize


@dataclass(frozen=True)
class BenchResult:
    name: str
    #: images/s in each round
    rounds: list[float]
    #: images/s / the reference's images/s of the same round
    ratios: list[float]

    @property
    def images_per_second(self) -> float:
        return statistics.median(self.rounds)


def interleaved(loops: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Runs every loop once per round, in order, `rounds` times: each loop's values."""
    values: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            values[name].append(loop())
    return values


def torchvision_dataset(data: ImageDataset, root: Path):
    """The dataset as the reference reads it: torchvision's class over files on disk."""
    from torchvision import datasets, transforms

    channels = data.sample_shape[0]
    normalize = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)]
    )
    if data.name == "cifar10":
        return datasets.CIFAR10(str(Path(data.source).parent), train=True, transform=normalize)
    # MNIST and Fashion-MNIST: write the IDX files torchvision's MNIST class reads.
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    write_idx(raw / "train-images-idx3-ubyte", data.train.images[:, 0].numpy())
    write_idx(raw / "train-labels-idx1-ubyte", data.train.labels.to(torch.uint8).numpy())
    write_idx(raw / "t10k-images-idx3-ubyte", data.test.images[:, 0].numpy())
    write_idx(raw / "t10k-labels-idx1-ubyte", data.test.labels.to(torch.uint8).numpy())
    return datasets.MNIST(str(root), train=True, transform=normalize)


def reference_loop(
    data: ImageDataset, steps: int, warmup: int, batch_size: int, device: torch.device, workers: int
) -> float:
    """Images/s of a PyTorch-examples-style DCGAN loop (see module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        dataset = torchvision_dataset(data, Path(tmp))
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            num_workers=workers,
            drop_last=True,
            persistent_workers=workers > 0,
        )
        torch.manual_seed(0)
        gan = MODELS.get("dcgan").factory(data)
        net_g = gan.generator.to(device)
        net_d = nn.Sequential(gan.discriminator, nn.Sigmoid()).to(device)
        criterion = nn.BCELoss()
        opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        step = 0
        start = time.perf_counter()
        while step < steps + warmup:
            for real, _ in loader:
                if step == warmup:
                    synchronize(device)
                    start = time.perf_counter()
                if step == steps + warmup:
                    break
                real = real.to(device)
                b = real.size(0)
                net_d.zero_grad()
                output = net_d(real)
                err_real = criterion(output, torch.full((b,), 1.0, device=device))
                err_real.backward()
                d_x = output.mean().item()
                fake = net_g(torch.randn(b, gan.latent_dim, device=device))
                output = net_d(fake.detach())
                err_fake = criterion(output, torch.full((b,), 0.0, device=device))
                err_fake.backward()
                opt_d.step()
                net_g.zero_grad()
                output = net_d(fake)
                err_g = criterion(output, torch.full((b,), 1.0, device=device))
                err_g.backward()
                opt_g.step()
                _ = (err_real + err_fake).item(), err_g.item(), d_x
                step += 1
        synchronize(device)
        return steps * batch_size / (time.perf_counter() - start)


def ganbench_loop(
    data: ImageDataset,
    steps: int,
    warmup: int,
    batch_size: int,
    device: torch.device,
    options: TrainingOptions,
) -> float:
    """Images/s of ganbench's own loop; train() times the steps after its warm-up."""
    torch.manual_seed(0)
    gan = MODELS.get("dcgan").factory(data)
    with contextlib.redirect_stderr(io.StringIO()):  # the bench prints its own progress
        record = train(
            gan,
            data,
            steps=steps + warmup,
            batch_size=batch_size,
            device=device,
            seed=0,
            options=options,
            log_points=10,
        )
    return record.samples_per_second


def run_bench(
    dataset: str,
    steps: int,
    batch_size: int,
    device: torch.device,
    variants: list[str],
    workers: int,
    rounds: int = 3,
) -> list[BenchResult]:
    """The reference first, then each variant, `rounds` times interleaved."""
    data = build_dataset(dataset)
    warmup = max(steps // 10, 5)
    reference = f"reference (torchvision + DataLoader x{workers} workers, fp32)"
    loops: dict[str, Callable[[], float]] = {
        reference: lambda: reference_loop(data, steps, warmup, batch_size, device, workers)
    }
    for name in variants:
        loops[f"ganbench {name}"] = functools.partial(
            ganbench_loop, data, steps, warmup, batch_size, device, BENCH_VARIANTS[name]
        )
    values = interleaved(loops, rounds)
    return [
        BenchResult(name, v, [x / r for x, r in zip(v, values[reference], strict=True)])
        for name, v in values.items()
    ]


def eval_bench(
    suite: Suite, budget: Budget, device: torch.device, rounds: int
) -> dict[str, list[float]]:
    """Seconds to evaluate the suite's metrics on one untrained model of its first image
    dataset: each metric with its own context (as before sharing: every metric samples
    and embeds for itself) against one shared context, interleaved. The values of both
    must be equal, or the speed-up would be measuring something else."""
    from ganbench.metrics.base import EvalContext
    from ganbench.run.job import build_metrics

    dataset = suite.datasets[0]
    data = build_dataset(dataset.name, dataset.params)
    torch.manual_seed(0)
    gan = build_model(suite.models[0].name, data, suite.models[0].params).to(device)
    metrics = {
        name: measure
        for name, measure in build_metrics(suite, budget).items()
        if not METRICS.get(name).meta.get("needs_training")
    }
    for measure in metrics.values():  # warm: weights loaded, real features cached
        measure(EvalContext(gan, data, None, seed=0))
    outcomes: dict[str, list] = {"alone": [], "shared": []}

    def timed(shared: bool) -> float:
        start = time.perf_counter()
        ctx = EvalContext(gan, data, None, seed=0)
        values = {}
        for measure in metrics.values():
            run_ctx = ctx if shared else EvalContext(gan, data, None, seed=0)
            values.update({k: m.value for k, m in measure(run_ctx).items()})
        outcomes["shared" if shared else "alone"].append(values)
        return time.perf_counter() - start

    with contextlib.redirect_stderr(io.StringIO()):
        seconds = interleaved(
            {"each metric alone": lambda: timed(False), "shared per job": lambda: timed(True)},
            rounds,
        )
    if any(a != s for a, s in zip(outcomes["alone"], outcomes["shared"], strict=True)):
        raise AssertionError(f"shared evaluation changed values: {outcomes}")
    return seconds
