"""Progress lines on stderr: rewritten in place on a terminal, one line per tenth in logs."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

#: Set (to anything) to print progress as whole lines even on a terminal.
LINES_ENV = "GANBENCH_PROGRESS_LINES"


class Progress:
    """Reports `done/total` for one task, with a free-form suffix (losses, rates)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        # Worker processes share the terminal: whole lines, each with its label.
        self.interactive = self.stream.isatty() and not os.environ.get(LINES_ENV)
        self.start = time.perf_counter()
        self._last_tenth = -1

    def update(self, done: int, suffix: str = "") -> None:
        tenth = done * 10 // self.total
        if not self.interactive and tenth == self._last_tenth and done < self.total:
            return
        self._last_tenth = tenth
        elapsed = time.perf_counter() - self.start
        line = f"{self.label}  {done}/{self.total}  {suffix}  {elapsed:.1f}s"
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, suffix: str = "") -> None:
        self.update(self.total, suffix)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
