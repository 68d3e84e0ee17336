"""`ganbench fid`, `is`, `eval` and `bench`: measuring folders and generators, and timing the training step; fid, is and eval also run under torchrun."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganbench import formatting
from ganbench.errors import GanbenchError
from ganbench.options import BENCH_VARIANTS

if TYPE_CHECKING:
    import torch


from ganbench.cli.common import (
    EXIT_OK,
    add_folder_options,
    add_input_options,
    apply_input_options,
    metric_option,
    parameters,
    positive_int,
    unavailable_notes,
)


def cmd_bench(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench.run.bench import run_bench
    from ganbench.runtime.devices import device_name, resolve_device

    if args.eval:
        return _eval_bench(args)
    unknown = [v for v in args.variants if v not in BENCH_VARIANTS]
    if unknown:
        raise GanbenchError(
            f"--variants: unknown {', '.join(unknown)}; valid: {', '.join(BENCH_VARIANTS)}"
        )
    device = resolve_device(args.device)
    print(
        f"DCGAN training step on {args.dataset}, batch {args.batch_size}, {args.steps} timed "
        f"steps, {device_name(str(device))}, {args.rounds} interleaved rounds",
        file=sys.stderr,
    )
    load_before = os.getloadavg()[0]
    results = run_bench(
        args.dataset, args.steps, args.batch_size, device, args.variants, args.workers, args.rounds
    )
    rows = [
        [
            r.name,
            f"{r.images_per_second:,.0f}",
            f"{statistics.median(r.ratios):.2f}x",
            f"{min(r.ratios):.2f}-{max(r.ratios):.2f}x",
        ]
        for r in results
    ]
    headers = ["loop", "images/s (median)", "vs reference (median)", "range over rounds"]
    print(tabulate(rows, headers=headers))
    print(
        f"{args.rounds} rounds, each loop once per round; load average {load_before:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
    )
    return EXIT_OK


def _folder_features(path: Path, extract, args: argparse.Namespace, device) -> torch.Tensor:
    """`extract` (features or logits) of every image in a folder, for `fid` and `is`."""
    from ganbench.features.base import batched
    from ganbench.features.folders import read_folder

    images = read_folder(path, grayscale=args.extractor == "mnist-classifier")
    batch_size = folder_batch_size(tuple(images.shape[1:]), args.batch_size)
    print(
        f"{path}: {images.shape[0]} images {tuple(images.shape[1:])}"
        + (f", {batch_size} at a time" if batch_size < args.batch_size else ""),
        file=sys.stderr,
    )
    return batched(extract, images, batch_size, device, f"{args.extractor}: {path}")


#: Bytes that one batch of a folder's images may take as float32 at their own size, before
#: the extractor resizes them: three 6000x6000 photos in one batch took 3.8 GB.
FOLDER_BATCH_BYTES = 2**28


def folder_batch_size(shape: tuple[int, ...], requested: int) -> int:
    """--batch-size, made smaller for large images so that a batch stays within
    FOLDER_BATCH_BYTES (each image's features do not depend on its batch)."""
    per_image = 4 * math.prod(shape)
    return max(1, min(requested, FOLDER_BATCH_BYTES // per_image))


def _eval_bench(args: argparse.Namespace) -> int:
    """`ganbench bench --eval SUITE`: the suite's evaluation, metrics alone vs shared."""
    from ganbench import suite as suite_module
    from ganbench.run.bench import eval_bench
    from ganbench.runtime.devices import resolve_device

    apply_input_options(args)
    s = suite_module.load(args.eval)
    budget = s.budget_for(args.quick)
    device = resolve_device(args.device)
    seconds = eval_bench(s, budget, device, args.rounds)
    alone, shared = seconds.values()
    ratios = [a / b for a, b in zip(alone, shared, strict=True)]
    print(
        f"evaluation of {s.name}{' --quick' if args.quick else ''} on {device}, "
        f"{args.rounds} interleaved rounds, equal values in every round"
    )
    for name, values in seconds.items():
        print(f"  {name:18} median {statistics.median(values):.2f} s, min {min(values):.2f} s")
    print(
        f"  speed-up: median {statistics.median(ratios):.2f}x "
        f"({min(ratios):.2f}-{max(ratios):.2f}x); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    return EXIT_OK


def cmd_fid(args: argparse.Namespace) -> int:
    from ganbench.metrics.fd import FD_EXTRACTORS
    from ganbench.metrics.features import extractor_per_device
    from ganbench.metrics.fid import fid_infinity, frechet_distance, gaussian_stats
    from ganbench.metrics.fid_stats_file import load_npz, npz_path, save_npz
    from ganbench.runtime import distributed
    from ganbench.runtime.devices import resolve_device

    if len(args.paths) > 2 or (len(args.paths) == 1 and not args.save_stats):
        raise GanbenchError("fid: give PATH_A PATH_B, or one PATH with --save-stats OUT.npz")
    if args.infinity and (len(args.paths) != 2 or Path(args.paths[1]).suffix == ".npz"):
        raise GanbenchError(
            "--infinity: give the real images or statistics as PATH_A and the generated "
            "images as PATH_B (a folder: FID-infinity subsamples their features)"
        )
    # Every input checked before any is embedded: Inception on a folder takes minutes.
    for path in map(Path, args.paths):
        if path.suffix != ".npz" and not path.is_dir():
            what = "no such file or folder" if not path.exists() else "not a folder"
            raise GanbenchError(
                f"{path}: {what}; expected a folder of images or a .npz of statistics"
            )
        if path.suffix == ".npz" and not path.is_file():
            raise GanbenchError(f"{path}: no such file")
    generated = None
    apply_input_options(args)
    device = resolve_device(args.device)
    extractor = None
    stats = []
    for path in map(Path, args.paths):
        if path.suffix == ".npz":
            stats.append(load_npz(path))
            continue
        if extractor is None:
            extractor = extractor_per_device(args.extractor, args.preprocess)(device)
        features = _folder_features(path, extractor, args, device)
        if args.infinity and len(stats) == 1:
            generated = features
            if features.shape[0] <= features.shape[1]:
                raise GanbenchError(
                    f"--infinity: {path} has {features.shape[0]} images, no more than the "
                    f"features' {features.shape[1]} dimensions: every subset's covariance is "
                    "singular and the fit FID_N = a + b/N means nothing; FID-infinity needs "
                    "more images than dimensions (its authors fit 5,000 to 50,000)"
                )
        if features.shape[0] < 2:
            raise GanbenchError(
                f"{path}: {features.shape[0]} image; a covariance needs at least 2 "
                "(FID is meant for thousands: pytorch-fid uses 50,000)"
            )
        stats.append(gaussian_stats(features))
    if args.save_stats and distributed.is_main():
        save_npz(Path(args.save_stats), stats[0])
        print(
            f"statistics of {args.paths[0]} written to {npz_path(Path(args.save_stats))}",
            file=sys.stderr,
        )
    if len(stats) == 2:
        dims = [s.mu.shape[0] for s in stats]
        if dims[0] != dims[1]:
            raise GanbenchError(
                f"{args.paths[0]} has {dims[0]}-d features, {args.paths[1]} {dims[1]}-d: "
                "compute both with the same --extractor (inception: 2048-d)"
            )
        # FID's line as scripts parse it; a DINOv2 or CLIP space is named (dgm-eval: "FD").
        label = f"FD ({args.extractor})" if args.extractor in FD_EXTRACTORS else "FID"
        print(f"{label}: {frechet_distance(stats[0], stats[1]):.6f}")
        few = [
            (path, st.n) for path, st in zip(args.paths, stats, strict=True) if 0 < st.n <= dims[0]
        ]
        for path, n in few:
            print(
                f"note: {path}: FID from {n} images, no more than the features' {dims[0]} "
                "dimensions: the covariance is singular and FID biased upward; compare only "
                "with FID at the same count (papers use 10,000 to 50,000)",
                file=sys.stderr,
            )
        if args.infinity:
            try:
                infinity = fid_infinity(stats[0], generated)
            except ValueError as e:
                raise GanbenchError(f"{args.paths[1]}: {e}") from None
            fit = f"fit of FID_N = a + b/N over N = {', '.join(map(str, infinity.sizes))}"
            if infinity.value < 0:  # no distance: never printed as one
                print(f"FID∞: n/a ({fit} gives a = {infinity.value:.6g} < 0: too few images)")
            else:
                print(f"FID∞: {infinity.value:.6f} ({fit}; b = {infinity.slope:.6g})")
            if infinity.sizes[0] <= dims[1]:
                print(
                    f"note: FID∞: its smallest subsets ({infinity.sizes[0]} images) have no "
                    f"more images than the features' {dims[1]} dimensions, where FID_N is not "
                    "yet a + b/N: a rough estimate; its authors fit 5,000 to 50,000 images",
                    file=sys.stderr,
                )
    return EXIT_OK


def cmd_cmmd(args: argparse.Namespace) -> int:
    from ganbench.features.clip import ARCHITECTURES
    from ganbench.metrics.cmmd import SIGMA, cmmd
    from ganbench.metrics.features import extractor_per_device
    from ganbench.runtime.devices import resolve_device

    if args.extractor not in ARCHITECTURES:  # its sigma and scale are CLIP's
        raise GanbenchError(
            f"--extractor {args.extractor}: CMMD is defined on CLIP embeddings; use "
            f"{' or '.join(ARCHITECTURES)} (a Fréchet distance in another feature space: "
            f"ganbench fid --extractor {args.extractor})"
        )
    for path in map(Path, args.paths):
        if not path.is_dir():
            raise GanbenchError(f"{path}: not a folder of images")
    apply_input_options(args)
    device = resolve_device(args.device)
    extractor = extractor_per_device(args.extractor)(device)
    real, generated = (_folder_features(Path(p), extractor, args, device) for p in args.paths)
    try:
        value = cmmd(real, generated, SIGMA, args.estimator)
    except ValueError as e:
        raise GanbenchError(f"{args.paths[0]}, {args.paths[1]}: {e}") from None
    print(f"CMMD: {value:.6f}")
    return EXIT_OK


def cmd_is(args: argparse.Namespace) -> int:
    from ganbench.features.inception import CLASSIFIER_MISSING
    from ganbench.metrics.features import extractor_per_device
    from ganbench.metrics.inception_score import inception_score
    from ganbench.runtime.devices import resolve_device

    apply_input_options(args)
    device = resolve_device(args.device)
    extractor = extractor_per_device(args.extractor, args.preprocess)(device)
    if not extractor.has_classifier:  # before reading any image
        raise GanbenchError(f"Inception Score {CLASSIFIER_MISSING}")
    logits = _folder_features(Path(args.path), extractor.logits, args, device)
    if logits.shape[0] < args.splits:
        raise GanbenchError(
            f"{args.path}: {logits.shape[0]} images for --splits {args.splits}; each split "
            "needs images: lower --splits (papers use 10 splits of 50,000 images)"
        )
    mean, std = inception_score(logits, args.splits)
    print(f"Inception Score: {mean:.6f} ± {std:.6f}  ({args.splits} splits)")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from ganbench.evaluate import evaluate_generator, load_generator
    from ganbench.runtime.devices import resolve_device

    apply_input_options(args)
    metrics = list(dict.fromkeys(args.metrics + [name for name, _ in args.metric]))
    if not metrics:
        raise GanbenchError("eval: name the metrics: --metrics fid-mnist,prdc or --metric ...")
    params = {name: p for name, p in args.metric if p}
    generator = load_generator(args.generator)
    dataset, dataset_params = metric_option(args.dataset)
    measured = evaluate_generator(
        generator,
        dataset,
        metrics,
        dataset_params=dataset_params,
        latent_dim=args.latent_dim,
        seed=args.seed,
        device=resolve_device(args.device),
        metric_params=params,
    )
    for line in unavailable_notes({key: m.settings for key, m in measured.items()}):
        print(line)
    printed: set[int] = set()
    for key, m in measured.items():
        # A one-key metric's value is also under the metric's name: print it once, by key.
        if id(m) not in printed and "unavailable" not in m.settings:
            printed.add(id(m))
            print(
                f"{key} {'↑' if m.higher_is_better else '↓'}: {formatting.format_number(m.value)}"
                f"  ({', '.join(f'{k}={v}' for k, v in m.settings.items())})"
            )
    return EXIT_OK


def _eval_metrics_help() -> str:
    """The metrics `eval` can measure with their parameters (at help time only: listing
    them imports every metric module)."""
    from ganbench.registry import METRICS

    lines = ["\nmetrics (a generator alone: no training metrics):"]
    for entry in METRICS:
        if not entry.meta.get("needs_training"):
            lines.append(f"  {entry.name:20} {entry.summary}")
            lines.append(f"  {'':20} {parameters(entry)}")
    return "\n".join(lines) + "\n"


#: Commands that split their feature extraction across torchrun's ranks.
DISTRIBUTED = ("fid", "is", "eval")


def _on_every_rank(args: argparse.Namespace) -> int:
    """One rank of `torchrun ... -m ganbench CMD`: joins the others, embeds its share of the
    images (distributed.py); rank 0 prints the results and writes the files."""
    if args.command not in DISTRIBUTED:
        raise GanbenchError(
            f"ganbench {args.command} under torchrun (WORLD_SIZE={os.environ['WORLD_SIZE']}): "
            f"only {', '.join(DISTRIBUTED)} split their work across ranks; run a suite's jobs "
            "across GPUs or machines with --executor ray or --shard K/N"
        )
    from ganbench.runtime import distributed

    args.device = distributed.start(args.device)
    distributed.quiet_unless_main()
    try:
        return args.func(args)
    finally:
        distributed.stop()


def add_bench(sub) -> None:
    bench = sub.add_parser("bench", help="ganbench's training step vs the reference DCGAN loop")
    bench.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or cifar10")
    bench.add_argument("--steps", type=int, default=200)
    bench.add_argument("--batch-size", type=int, default=128)
    bench.add_argument("--device", default="auto")
    bench.add_argument("--workers", type=int, default=2, help="reference DataLoader workers")
    bench.add_argument(
        "--eval",
        metavar="SUITE",
        help="time SUITE's evaluation instead: each metric alone vs shared per job",
    )
    bench.add_argument("--quick", action="store_true", help="with --eval: the [quick] budget")
    bench.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="interleaved rounds (reference, variants, reference, ...); the median ratio "
        "and its range are reported",
    )
    bench.add_argument(
        "--variants",
        type=lambda s: s.split(","),
        default=["fp32", "channels_last"],
        help=f"comma-separated: {', '.join(BENCH_VARIANTS)}",
    )
    add_input_options(bench, data=True)
    bench.set_defaults(func=cmd_bench)


def add_fid(sub) -> None:
    fid = sub.add_parser("fid", help="FID between two folders of images or .npz statistics")
    fid.add_argument("paths", nargs="+", help="PATH_A [PATH_B]: image folders or .npz (mu, sigma)")
    fid.add_argument("--save-stats", help="write PATH_A's statistics to this .npz")
    fid.add_argument(
        "--infinity",
        action="store_true",
        help="also FID-infinity (Chong & Forsyth 2020): FID at 15 subset sizes of PATH_B's "
        "images, extrapolated to infinitely many",
    )
    add_folder_options(fid)
    fid.set_defaults(func=cmd_fid)


def add_cmmd(sub) -> None:
    cm = sub.add_parser("cmmd", help="CMMD (Jayasumana et al. 2024) between two folders of images")
    cm.add_argument("paths", nargs=2, metavar="PATH", help="real images, then generated")
    cm.add_argument(
        "--estimator",
        choices=("biased", "unbiased"),
        default="biased",
        help="the paper's minimum-variance estimate (default) or the unbiased one",
    )
    cm.add_argument(
        "--extractor", default="clip-vit-l14-336", help="clip-vit-l14-336 or clip-vit-b32"
    )
    cm.add_argument("--device", default="auto")
    cm.add_argument("--batch-size", type=positive_int, default=50)
    add_input_options(cm, data=False)
    cm.set_defaults(func=cmd_cmmd)


def add_is_(sub) -> None:
    isc = sub.add_parser("is", help="Inception Score of a folder of images")
    isc.add_argument("path", help="folder of images (PNG, JPEG, ...)")
    isc.add_argument("--splits", type=positive_int, default=10)
    add_folder_options(isc)
    isc.set_defaults(func=cmd_is)


def add_eval(sub) -> None:
    ev = sub.add_parser("eval", help="measure your own generator (no training)")
    ev.add_argument("--generator", required=True, help="MODULE:GENERATOR or MODULE:FACTORY()")
    ev.add_argument(
        "--dataset",
        required=True,
        metavar="NAME[:KEY=VALUE,...]",
        help="a dataset, with its parameters if any, e.g. mnist or folder:path=imgs,resolution=28",
    )
    ev.add_argument(
        "--metrics",
        type=lambda s: [name for name in s.split(",") if name],
        default=[],
        help="comma-separated metric names, e.g. fid-mnist,prdc (listed below)",
    )
    ev.add_argument(
        "--metric",
        type=metric_option,
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="a metric with parameters, e.g. prdc:extractor=mnist-classifier,samples=2000 "
        "(repeatable; checked like a suite's keys)",
    )
    ev.add_argument("--latent-dim", type=int, help="default: the generator's latent_dim")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    add_input_options(ev, data=True)
    ev.set_defaults(func=cmd_eval)

    ev.format_help = lambda: argparse.ArgumentParser.format_help(ev) + _eval_metrics_help()
