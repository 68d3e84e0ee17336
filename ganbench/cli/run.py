"""`ganbench run` and `ganbench merge`: a suite trained and measured, a job array's run completed; SIGTERM handled as Ctrl-C while a run trains."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganbench.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_input_options,
    apply_input_options,
    positive_float,
    positive_int,
    unavailable_notes,
)
from ganbench.errors import GanbenchError
from ganbench.formatting import say
from ganbench.publishing import tables
from ganbench.results.files import RunFolder
from ganbench.results.store import ResultsStore
from ganbench.runtime import conditions, ray_cluster


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM (Slurm, Kubernetes, `timeout`) stops a run as Ctrl-C does: finished jobs
    kept, lock released, workers stopped, the resume line printed."""
    _stopped_by.append(signum)
    raise KeyboardInterrupt


#: The signal that stopped a run, for its exit status (128 + the signal, as a shell's).
_stopped_by: list[int] = []


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


def continued(args: argparse.Namespace) -> str:
    """The command that continues an interrupted run: the flags that choose its jobs, its
    run folder (--resume finds a run by its seeds too) and its device and data, with
    --resume (or the job array's --run-id)."""
    return (
        f"ganbench run {args.suite}"
        + (" --quick" if args.quick else "")
        + (f" --budget {args.budget}" if args.budget else "")
        + "".join(f" --only '{p}'" for p in args.only)
        + (f" --seeds {','.join(map(str, args.seeds))}" if args.seeds else "")
        + (f" --device {args.device}" if args.device != "auto" else "")
        + (f" --data-root {args.data_root}" if args.data_root else "")
        + (f" --shard {args.shard[0]}/{args.shard[1]}" if args.shard else "")
        + (f" --run-id {args.run_id}" if args.run_id else " --resume")
    )


def cmd_run(args: argparse.Namespace) -> int:
    from ganbench import suite as suite_module
    from ganbench.run import ExecutorConfig, run_suite

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
    apply_input_options(args)
    s = suite_module.load(args.suite)
    if args.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise GanbenchError(
            "--tensorboard needs the tensorboard package; run: pip install -e '.[tensorboard]'"
        )
    if args.tensorboard:
        from ganbench.run.tensorboard_events import check_folder

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
            executor=ExecutorConfig(
                args.executor, args.workers, args.address, args.job_cpus, args.job_gpus
            ),
            seeds=args.seeds,
            tensorboard=Path(args.tensorboard).resolve() if args.tensorboard else None,
            shard=args.shard,
            run_id=args.run_id,
        )
    if outcome.missing_jobs:
        say(outcome.table)
        say(
            f"\nshard {args.shard[0]}/{args.shard[1]} is done; {len(outcome.missing_jobs)} "
            f"jobs of the run have no fragment yet ({', '.join(outcome.missing_jobs)}): "
            f"the last shard to finish completes the run, or run: ganbench merge "
            f"{outcome.run_dir}"
        )
        return EXIT_OK if not outcome.failed_jobs else EXIT_FAILED
    return _print_outcome(args, outcome)


def cmd_merge(args: argparse.Namespace) -> int:
    from ganbench.run.finish import merge_run

    run_dir, _ = ResultsStore(Path(args.results_dir)).resolve(args.run)
    return _print_outcome(args, merge_run(run_dir))


def _print_outcome(args: argparse.Namespace, outcome) -> int:
    """The table, notes, checks and verdicts of a finished run; the exit code they give."""
    say(outcome.table)
    say(tables.units_line(outcome.result["results"]))
    for line in conditions.notes(outcome.result["results"]):
        say(line)
    results = outcome.result["results"]
    settings = {
        f"{model}/{dataset}/{key}": m["settings"]
        for model, datasets in results.items()
        for dataset, metrics in datasets.items()
        for key, m in metrics.items()
    }
    for line in unavailable_notes(settings):
        say(line)
    folder = RunFolder(outcome.run_dir)
    say(f"\nresults: {folder.result}, table: {folder.table}")
    for line in (o.line() for o in outcome.check_outcomes):
        say(line)
    for job in outcome.failed_jobs:
        say(f"FAILED {job.replace('__', '/')}: {outcome.result['jobs']['failed'][job]}")
    for verdict in outcome.verdicts:
        say(verdict.line())
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
        for status, word in (
            ("DIFFERS", "differ"),
            ("INCONCLUSIVE", "inconclusive"),
            ("NOT COMPARABLE", "not comparable"),
            ("NO VALUE", "no value"),
        ):
            if counts[status]:
                parts.append(f"{counts[status]} {word}")
    if outcome.skipped_jobs:
        parts.append(f"{outcome.skipped_jobs} resumed")
    say(f"{'=' * 20} {', '.join(parts)} in {outcome.seconds:.1f}s {'=' * 20}")
    if not outcome.ok or (args.require_references and not outcome.reproduced):
        return EXIT_FAILED
    return EXIT_OK


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


def add_run(sub) -> None:
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
    _add_executor_options(run)
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
    add_input_options(run, data=True)
    run.set_defaults(func=cmd_run)


def _add_executor_options(run: argparse.ArgumentParser) -> None:
    """Which budget, and where the jobs train: here, in worker processes, or on Ray."""
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
        help="local: this machine (see --workers); ray: each (model, dataset) group a Ray "
        f"task, on a Ray started here or at --address (needs {ray_cluster.EXTRA})",
    )
    run.add_argument(
        "--address",
        metavar="ADDR",
        help="with --executor ray: the cluster to use (auto, or ray://HOST:10001); default: "
        "a Ray started on this machine for the run",
    )
    run.add_argument(
        "--job-cpus",
        type=positive_int,
        metavar="N",
        help="with --executor ray: CPUs (and torch threads) per job (default: [training] "
        "job_cpus, 1)",
    )
    run.add_argument(
        "--job-gpus",
        type=positive_float,
        metavar="G",
        help="with --executor ray on CUDA: GPUs per job, e.g. 0.5 (default: [training] "
        "job_gpus, 1)",
    )


def add_merge(sub) -> None:
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
