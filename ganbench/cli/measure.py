"""`ganbench fid`, `stats`, `cmmd`, `is`, `eval` and `bench`: measuring folders, named splits and generators through the library (ganbench/api), and timing the training step; fid, stats, is and eval also run under torchrun."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganbench import formatting
from ganbench.errors import GanbenchError
from ganbench.formatting import say
from ganbench.options import BENCH_VARIANTS

if TYPE_CHECKING:
    import torch


from ganbench.cli.common import (
    EXIT_OK,
    add_folder_options,
    add_input_options,
    add_samples_option,
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


def _sides(args: argparse.Namespace, statistics: bool) -> list:
    """Each PATH as the library reads it (api/inputs.py): a folder, a .npz of statistics
    (where `statistics`), or a named split such as mnist:test; every one checked before
    any is embedded (Inception on a folder takes minutes)."""
    from ganbench.api.inputs import source

    paths = getattr(args, "paths", None) or [args.path]
    roles = ("real", "generated") if len(paths) == 2 else ("real",)
    return [
        source(path, role=role, allow_statistics=statistics)
        for path, role in zip(paths, roles, strict=True)
    ]


def _extractor(args: argparse.Namespace, device: torch.device):
    """--extractor (with --preprocess, if it takes one) on `device`, built when called."""
    from ganbench.metrics.features import extractor_per_device

    return lambda: extractor_per_device(args.extractor, args.preprocess)(device)


def cmd_fid(args: argparse.Namespace) -> int:
    from ganbench.api.functions import frechet_between, gaussians
    from ganbench.metrics.fid import check_infinity_features
    from ganbench.runtime import distributed
    from ganbench.runtime.devices import resolve_device

    if len(args.paths) > 2 or (len(args.paths) == 1 and not args.save_stats):
        raise GanbenchError("fid: give PATH_A PATH_B, or one PATH with --save-stats OUT.npz")
    if args.infinity and (len(args.paths) != 2 or Path(args.paths[1]).suffix == ".npz"):
        raise GanbenchError(
            "--infinity: give the real images or statistics as PATH_A and the generated "
            "images as PATH_B (a folder: FID-infinity subsamples their features)"
        )
    apply_input_options(args)
    sides = _sides(args, statistics=True)
    device = resolve_device(args.device)
    stats, features, settings = gaussians(
        sides, _extractor(args, device), args.batch_size, device, args.samples
    )
    if args.infinity:
        check_infinity_features(features[1], sides[1].label)
    if args.save_stats and distributed.is_main():
        _save_statistics(Path(args.save_stats), sides[0], stats[0], settings)
    if len(stats) == 2:
        _print_fid(args, sides, stats, frechet_between(sides, stats))
    if args.infinity:
        _print_fid_infinity(sides[1], stats[0], features[1])
    return EXIT_OK


def _save_statistics(path: Path, side, stats, settings: dict) -> None:
    from ganbench.metrics.fid_stats_file import save_npz

    cpu = type(stats)(stats.mu.cpu(), stats.sigma.cpu(), stats.n)
    written = save_npz(path, cpu, {"extractor": settings, "images": side.describe("real", stats.n)})
    say(f"statistics of {side.label} written to {written}", file=sys.stderr)


def _print_fid(args: argparse.Namespace, sides: list, stats: list, value: float) -> None:
    from ganbench.metrics.fd import FD_EXTRACTORS

    # FID's line as scripts parse it; a DINOv2 or CLIP space is named (dgm-eval: "FD").
    label = f"FD ({args.extractor})" if args.extractor in FD_EXTRACTORS else "FID"
    say(f"{label}: {value:.6f}")
    dims = stats[0].mu.shape[0]
    for side, st in zip(sides, stats, strict=True):
        if 0 < st.n <= dims:
            say(
                f"note: {side.label}: FID from {st.n} images, no more than the features' {dims} "
                "dimensions: the covariance is singular and FID biased upward; compare only "
                "with FID at the same count (papers use 10,000 to 50,000)",
                file=sys.stderr,
            )


def _print_fid_infinity(side, real, generated: torch.Tensor) -> None:
    from ganbench.metrics.fid import fid_infinity

    try:
        infinity = fid_infinity(real, generated)
    except ValueError as e:
        raise GanbenchError(f"{side.label}: {e}") from None
    fit = f"fit of FID_N = a + b/N over N = {', '.join(map(str, infinity.sizes))}"
    if infinity.value < 0:  # no distance: never printed as one
        print(f"FID∞: n/a ({fit} gives a = {infinity.value:.6g} < 0: too few images)")
    else:
        print(f"FID∞: {infinity.value:.6f} ({fit}; b = {infinity.slope:.6g})")
    dims = generated.shape[1]
    if infinity.sizes[0] <= dims:
        print(
            f"note: FID∞: its smallest subsets ({infinity.sizes[0]} images) have no "
            f"more images than the features' {dims} dimensions, where FID_N is not "
            "yet a + b/N: a rough estimate; its authors fit 5,000 to 50,000 images",
            file=sys.stderr,
        )


def cmd_stats(args: argparse.Namespace) -> int:
    """`ganbench stats INPUT --out FILE.npz`: statistics to share, with their settings."""
    from ganbench.api.functions import gaussians
    from ganbench.runtime import distributed
    from ganbench.runtime.devices import resolve_device

    apply_input_options(args)
    sides = _sides(args, statistics=False)
    device = resolve_device(args.device)
    [stats], _, settings = gaussians(
        sides, _extractor(args, device), args.batch_size, device, args.samples
    )
    if distributed.is_main():
        _save_statistics(Path(args.out), sides[0], stats, settings)
    return EXIT_OK


def cmd_cmmd(args: argparse.Namespace) -> int:
    from ganbench.api.functions import cmmd
    from ganbench.features.clip import ARCHITECTURES

    if args.extractor not in ARCHITECTURES:  # its sigma and scale are CLIP's
        raise GanbenchError(
            f"--extractor {args.extractor}: CMMD is defined on CLIP embeddings; use "
            f"{' or '.join(ARCHITECTURES)} (a Fréchet distance in another feature space: "
            f"ganbench fid --extractor {args.extractor})"
        )
    apply_input_options(args)
    real, generated = _sides(args, statistics=False)
    value = cmmd(
        generated,
        real,
        extractor=args.extractor,
        estimator=args.estimator,
        samples=args.samples,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(f"CMMD: {value:.6f}")
    return EXIT_OK


def cmd_is(args: argparse.Namespace) -> int:
    from ganbench.api.functions import inception_score

    apply_input_options(args)
    [images] = _sides(args, statistics=False)
    score = inception_score(
        images,
        splits=args.splits,
        extractor=args.extractor,
        preprocess=args.preprocess,
        samples=args.samples,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(f"Inception Score: {score:.6f} ± {score.std:.6f}  ({args.splits} splits)")
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
DISTRIBUTED = ("fid", "is", "eval", "stats")


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


#: What an input may be, for --help.
INPUTS = "a folder of images, or a dataset's split such as mnist:test or cifar10:train"


def add_fid(sub) -> None:
    fid = sub.add_parser("fid", help="FID between two folders, .npz statistics or named splits")
    fid.add_argument(
        "paths", nargs="+", help=f"PATH_A [PATH_B]: each {INPUTS}, or a .npz (mu, sigma)"
    )
    fid.add_argument("--save-stats", help="write PATH_A's statistics to this .npz")
    fid.add_argument(
        "--infinity",
        action="store_true",
        help="also FID-infinity (Chong & Forsyth 2020): FID at 15 subset sizes of PATH_B's "
        "images, extrapolated to infinitely many",
    )
    add_folder_options(fid)
    fid.set_defaults(func=cmd_fid)


def add_stats(sub) -> None:
    stats = sub.add_parser(
        "stats", help="FID statistics of images to share (.npz recording its settings)"
    )
    stats.add_argument("path", help=INPUTS)
    stats.add_argument("--out", required=True, help="the .npz to write (mu, sigma, n, settings)")
    add_folder_options(stats)
    stats.set_defaults(func=cmd_stats)


def add_cmmd(sub) -> None:
    cm = sub.add_parser("cmmd", help="CMMD (Jayasumana et al. 2024) between two sets of images")
    cm.add_argument("paths", nargs=2, metavar="PATH", help=f"real images, then generated: {INPUTS}")
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
    add_samples_option(cm)
    add_input_options(cm, data=True)
    cm.set_defaults(func=cmd_cmmd)


def add_is_(sub) -> None:
    isc = sub.add_parser("is", help="Inception Score of a folder of images or a named split")
    isc.add_argument("path", help=INPUTS)
    isc.add_argument("--splits", type=positive_int, default=10)
    add_folder_options(isc, "50,000, as a suite's Inception Score draws")
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
