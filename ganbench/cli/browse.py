"""`ganbench compare`, `leaderboard`, `report`, `ls` and `validate`: reading suites and results. None imports torch (tests/test_fast_start.py holds it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganbench.cli.common import EXIT_FAILED, EXIT_OK, parameters
from ganbench.errors import GanbenchError
from ganbench.formatting import say
from ganbench.results.store import ResultsStore


def _print_networks(path: str) -> None:
    """`ls --networks SUITE`: layers, parameters and FLOPs of each (model, dataset)."""
    from tabulate import tabulate

    from ganbench import suite as suite_module
    from ganbench.registry import build_dataset
    from ganbench.training.build import build_model
    from ganbench.training.network_summary import HEADERS, summarise, summary_rows

    s = suite_module.load(path)
    for d in s.datasets:
        data = build_dataset(d.name, d.params)
        for m in s.models:
            summaries = summarise(build_model(m.name, data, m.params), data.sample_shape)
            say(f"\n{m.label} on {d.label}\n" + tabulate(summary_rows(summaries), HEADERS))
    say("\nFLOPs: one forward pass in eval mode, matmuls and convolutions only, per sample")


def cmd_ls(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench import suite as suite_module
    from ganbench.registry import DATASETS, METRICS, MODELS

    if args.networks:
        _print_networks(args.networks)
        return EXIT_OK

    suites = []
    for name, path, origin in suite_module.known_suites(Path(args.suites_dir)):
        try:
            description = suite_module.load(path).description
        except GanbenchError as e:
            description = f"INVALID: {e}"
        suites.append([name, origin, description])
    say(
        "suites (run by name: ganbench run NAME; a folder of the same name under "
        f"{args.suites_dir}/ comes first)"
    )
    say(tabulate(suites, headers=["name", "from", "description"]))
    if args.suites:
        return EXIT_OK
    for title, registry in (("models", MODELS), ("datasets", DATASETS), ("metrics", METRICS)):
        rows = [[e.name, e.summary, parameters(e)] for e in registry]
        say(f"\n{title}\n" + tabulate(rows, headers=["name", "description", "parameters"]))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from ganbench import suite as suite_module

    for path in args.paths:
        s = suite_module.load(path)
        jobs = len(s.datasets) * len(s.models)
        say(
            f"{s.path}: ok — suite {s.name!r} v{s.version}: {len(s.datasets)} datasets, "
            f"{len(s.models)} models, {len(s.metrics)} metrics, {len(s.checks)} checks, "
            f"{len(s.references)} references; "
            f"{jobs * len(s.budget.seeds)} jobs ({jobs * len(s.quick.seeds)} with --quick)"
        )
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ganbench.results import compare, protocol

    rules = [compare.parse_rule(text) for text in args.fail]
    store = ResultsStore(Path(args.results_dir))
    (path_a, a), (path_b, b) = (store.resolve(r) for r in (args.a, args.b))
    rows = compare.compare_results(a, b)
    if not rows:
        raise GanbenchError(f"{path_a} and {path_b} share no model/dataset/metric to compare")
    failures = compare.apply_rules(rows, rules)  # first: a bad rule is an input error
    for label, path, r in (("A", path_a, a), ("B", path_b, b)):
        say(f"{label}: {path}  ({r['suite']['name']}, commit {r['commit_info']['id'][:8]})")
    say()
    say(
        tabulate(
            compare.table_rows(rows),
            disable_numparse=True,
            headers=["model", "dataset", "metric", "A", "B", "Δ", "Δ%", "verdict"],
        )
    )
    for reason, number in compare.refusals(rows).items():
        say(f"[{number}] refused: {reason}")
    if notes := protocol.execution_difference(a, b):
        say("note: ran differently, compared all the same: " + "; ".join(notes))
    for line in failures:
        say(line)
    if rules:
        say(f"{'=' * 20} {len(rules)} rules, {len(failures)} failed {'=' * 20}")
    return EXIT_FAILED if failures else EXIT_OK


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from ganbench import suite as suite_module
    from ganbench.publishing import leaderboard
    from ganbench.results.files import atomic_write_text

    found = suite_module.by_name(args.suite)  # gone: rank by the first metric
    entries = leaderboard.collect(Path(args.results_dir), args.suite, args.include_quick)
    text = leaderboard.render(
        entries, args.suite, args.format, found and found.primary, args.all_keys
    )
    if args.out:
        atomic_write_text(Path(args.out), text)
        say(f"wrote {args.out} ({len(entries)} rows)", file=sys.stderr)
    else:
        say(text, end="")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ganbench.publishing.report import write_report

    run_dir, _ = ResultsStore(Path(args.results_dir)).resolve(args.run)
    if run_dir.is_file():
        run_dir = run_dir.parent
    say(f"wrote {write_report(run_dir)}")
    return EXIT_OK


def add_compare(sub) -> None:
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


ALL_KEYS_HELP = (
    "also show the keys a metric calls auxiliary (mnist_score_std, IS's std over splits); "
    "CSV always has every key"
)


def add_leaderboard(sub) -> None:
    board = sub.add_parser("leaderboard", help="one table per suite from result files")
    board.add_argument("results_dir", nargs="?", default="results")
    board.add_argument("--suite", required=True)
    board.add_argument("--format", default="md", help="md, csv, latex or html")
    board.add_argument("--out", help="write to this file (atomically) instead of stdout")
    board.add_argument(
        "--include-quick", action="store_true", help="also use --quick runs and --seeds reruns"
    )
    board.add_argument("--all-keys", action="store_true", help=ALL_KEYS_HELP)
    board.set_defaults(func=cmd_leaderboard)


def cmd_publish(args: argparse.Namespace) -> int:
    from ganbench.publishing.publish import publish

    if not args.out.strip():  # Path("") is the current folder, whose index.html it replaced
        raise GanbenchError("--out is empty; name the site's folder, e.g. --out site")
    index = publish(Path(args.results_dir), Path(args.out), args.all_keys)
    say(f"wrote {index} (open it in a browser, or serve {args.out} with GitHub Pages)")
    return EXIT_OK


def add_publish(sub) -> None:
    pub = sub.add_parser(
        "publish", help="the leaderboards as a static site (works from file:// and Pages)"
    )
    pub.add_argument("results_dir", nargs="?", default="results")
    pub.add_argument("--out", required=True, help="the site's folder (made if missing)")
    pub.add_argument("--all-keys", action="store_true", help=ALL_KEYS_HELP)
    pub.set_defaults(func=cmd_publish)


def add_report(sub) -> None:
    rep = sub.add_parser("report", help="one self-contained HTML page for a run")
    rep.add_argument("run", help="run number or run folder")
    rep.add_argument("--results-dir", default="results")
    rep.set_defaults(func=cmd_report)


def add_ls(sub) -> None:
    ls = sub.add_parser("ls", help="list suites, models, datasets and metrics")
    ls.add_argument("--suites-dir", default="suites")
    ls.add_argument(
        "--suites", action="store_true", help="only the suites, and where each comes from"
    )
    ls.add_argument(
        "--networks",
        metavar="SUITE",
        help="instead: each model of SUITE on each of its datasets, layer by layer, with "
        "parameters and FLOPs per sample",
    )
    ls.set_defaults(func=cmd_ls)


#: What `ganbench init` copies from examples/ci-project (its baseline is the project's own
#: to make).
def cmd_init(args: argparse.Namespace) -> int:
    """A GAN project gated by ganbench, like examples/ci-project: a model with the factory
    contract, a gate suite, a CI workflow and a pytest gate; the baseline is yours to make."""
    from ganbench.cli.project_init import TEMPLATE_FILES, write_project

    target = Path(args.dir)
    note = write_project(target)
    say(
        f"wrote {len(TEMPLATE_FILES)} files to {target}: tinygan/model.py is the model to "
        "replace with yours (make(data, **params) returns a ganbench.training.GAN)"
    )
    say(note)
    say(
        "next, in that folder: ganbench run suites/gate (the 5-seed baseline, about 5 min "
        "on 2 cores), then mkdir baseline and copy the run's result.json there and commit it; "
        "README.md says the rest"
    )
    return EXIT_OK


def add_init(sub) -> None:
    init = sub.add_parser(
        "init", help="start a GAN project gated by ganbench (like examples/ci-project)"
    )
    init.add_argument("dir", nargs="?", default=".", help="the project folder (default: here)")
    init.set_defaults(func=cmd_init)


def add_validate(sub) -> None:
    validate = sub.add_parser("validate", help="check suite files without running them")
    validate.add_argument("paths", nargs="+")
    validate.set_defaults(func=cmd_validate)
