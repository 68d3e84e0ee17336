"""The `ganbench` command: one module per family of commands (run.py: run, merge;
measure.py: fid, stats, cmmd, is, eval, bench; browse.py: compare, leaderboard, report, ls, validate),
each adding its own subcommands. Exit codes follow pytest: 0 all good, 1 a check or a
job failed, 2 a usage or input error (printed as one line, no traceback), 130
interrupted (143 by SIGTERM), 141 when the reader of its output went away (`| head -1`),
quietly, as other command-line tools end on SIGPIPE."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from ganbench import __version__
from ganbench.cli import browse, measure
from ganbench.cli import run as run_commands
from ganbench.cli.common import EXIT_USAGE
from ganbench.errors import GanbenchError, RunInterrupted
from ganbench.formatting import escape, say

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
    "stats": measure.add_stats,
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


#: What a shell reports for a command that SIGPIPE ended.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            code = measure._on_every_rank(args)
        else:
            code = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, not as a traceback at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except GanbenchError as e:
        # A message may quote a name from someone's file: no terminal controls reach the
        # terminal (a message's own line breaks stay).
        lines = str(e).split("\n")
        print(
            "ganbench: error: " + "\n".join(escape(x, "terminal") for x in lines), file=sys.stderr
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ganbench: interrupted", file=sys.stderr)
        return run_commands.interrupted_exit()
    except RunInterrupted as e:
        say(f"ganbench: {e}; continue with: {run_commands.continued(args)}", file=sys.stderr)
        return run_commands.interrupted_exit()


def _silence_stdout() -> None:
    """Points stdout at /dev/null, so that flushing it at exit raises nothing more (the
    recipe of Python's signal documentation, "Note on SIGPIPE")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
