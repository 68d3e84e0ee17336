"""The one exception type a user is meant to read.

Anything raised as `GanbenchError` is printed as a single message without a
traceback and ends the command with exit code 2 (usage or input error), the
way pytest treats a bad command line. Everything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class GanbenchError(Exception):
    """A problem with the user's input: a file, a field or a flag, and how to fix it."""


class WriteFailed(GanbenchError):
    """A file could not be written (full or read-only disk, no permission): one line that
    names the path and the errno, exit 2; what was written before is intact."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Returns ' (did you mean "x"?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


class RunInterrupted(Exception):
    """Ctrl-C during a run: finished jobs are on disk and `--resume` continues."""

    def __init__(self, run_dir: Path, finished: int, total: int) -> None:
        super().__init__(
            f"interrupted after {finished} of {total} jobs; finished jobs and checkpoints are "
            f"kept in {run_dir}"
        )
        self.run_dir = run_dir
