"""One process at a time per run folder.

Two `ganbench run --resume` started on one run would train the same jobs and
overwrite each other's fragments; the second must stop before it touches
anything. The lock is a file created with its content in one step (a hard link
of a written temporary file, which fails if the lock exists), so a reader never
sees an empty lock. A lock whose process is gone on this host is stale and is
taken over; one held on another host is reported, never broken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.untrusted import read_regular

LOCK_FILE = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _holder(lock: Path) -> dict | None:
    """The lock's content, or None when it is unreadable (then it is treated as stale): a
    FIFO or a device put in its place is not read (it would hang or never end)."""
    try:
        holder = json.loads(read_regular(lock, 4096, follow_symlinks=False))
    except (OSError, ValueError, GanbenchError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _try_create(lock: Path, content: str) -> bool:
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=".lock.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.link(tmp, lock)
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def locked(run_dir: Path, name: str = LOCK_FILE) -> Iterator[None]:
    """Holds `run_dir`'s lock for the block; raises GanbenchError if a live process holds it.
    Shards of one run each hold their own (`name`): they share the folder, not the jobs."""
    lock = run_dir / name
    host = platform.node()
    content = json.dumps(
        {
            "pid": os.getpid(),
            "host": host,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    for _ in range(3):
        if _try_create(lock, content):
            break
        holder = _holder(lock)
        if holder is not None and (holder.get("host") != host or _alive(holder["pid"])):
            where = "" if holder.get("host") == host else f" on host {holder.get('host')}"
            raise GanbenchError(
                f"{run_dir}: in use by ganbench process {holder['pid']}{where} since "
                f"{holder.get('started')}; wait for it to finish (if it is gone, delete {lock})"
            )
        lock.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise GanbenchError(f"{lock}: could not take the lock; delete it if no run is alive")
    try:
        yield
    finally:
        if _holder(lock) == json.loads(content):
            lock.unlink(missing_ok=True)
