"""The `ganbench` command: one module per family of commands (run.py: run, merge;
measure.py: fid, cmmd, is, eval, bench; browse.py: compare, leaderboard, report, ls, validate),
each adding its own subcommands. Exit codes follow pytest: 0 all good, 1 a check or a
job failed, 2 a usage or input error (printed as one line, no traceback), 130
interrupted (143 by SIGTERM)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ganbench import __version__
from ganbench.cli import browse, measure
from ganbench.cli import run as run_commands
from ganbench.cli.common import EXIT_USAGE
from ganbench.errors import GanbenchError, RunInterrupted

#: The subcommands in the order --help lists them.
COMMANDS = {
    "run": run_commands.add_run,
    "compare": browse.add_compare,
    "leaderboard": browse.add_leaderboard,
    "publish": browse.add_publish,
    "merge": run_commands.add_merge,
    "report": browse.add_report,
    "ls": browse.add_ls,
    "bench": measure.add_bench,
    "fid": measure.add_fid,
    "cmmd": measure.add_cmmd,
    "is": measure.add_is_,
    "eval": measure.add_eval,
    "validate": browse.add_validate,
    "init": browse.add_init,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganbench", description="Train reference GANs and measure them comparably."
    )
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return measure._on_every_rank(args)
        return args.func(args)
    except GanbenchError as e:
        print(f"ganbench: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ganbench: interrupted", file=sys.stderr)
        return run_commands.interrupted_exit()
    except RunInterrupted as e:
        print(f"ganbench: {e}; continue with: {run_commands.continued(args)}", file=sys.stderr)
        return run_commands.interrupted_exit()
