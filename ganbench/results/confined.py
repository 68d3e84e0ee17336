"""Writes and copies that stay inside their root, for paths built from names in files
that others wrote (docs/security.md).

A name becomes a file name through formatting.file_name; the functions here are the
second guard, on the path itself: what is written resolves inside its root (a `..`, an
absolute name or a symlink already in the root cannot lead elsewhere), what is copied is
a regular file whose resolved path lies inside the tree it is copied from, and a new
project's files are created exclusively without following any link.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.results.files import atomic_write_bytes, write_failed


def inside(root: Path, path: Path) -> Path:
    """`path` (made from `root`: `root / name`) if it resolves inside `root`, following
    the symlinks that exist on the way; otherwise one line naming both.

    Raises:
        GanbenchError: the path leaves its root."""
    try:
        resolved = path.resolve()
        leaves = not resolved.is_relative_to(root.resolve())
    except RuntimeError:  # a symlink loop
        resolved, leaves = "a symlink loop", True
    if leaves:
        raise GanbenchError(
            f"{path}: refused: it resolves to {resolved}, outside {root}; a name or a "
            "symlink in the input points elsewhere"
        )
    return path


def write_inside(root: Path, path: Path, data: bytes | str) -> Path:
    """Writes `data` to `path` (made from `root`) atomically, folders made as needed, once
    it is checked to stay inside `root`. Returns the path written."""
    target = inside(root, path)
    atomic_write_bytes(target, data.encode("utf-8") if isinstance(data, str) else data)
    return target


def regular_file_inside(tree: Path, path: Path) -> Path | None:
    """`path` if it is a regular file whose resolved path lies inside `tree` (a symlink
    within the tree to a file within it is followed), else None: a picture or page that
    links out of a results tree is not its content."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a dangling link, a symlink loop
        return None
    if not resolved.is_relative_to(tree.resolve()) or not resolved.is_file():
        return None
    return resolved


def copy_inside(tree: Path, source: Path, root: Path, path: Path) -> Path | None:
    """Copies `source`, a regular file inside `tree`, to `path` (made from `root`) inside
    `root`; None (and nothing written) when `source` is missing or leads out of its tree.

    Raises:
        GanbenchError: `path` leaves `root`, or the copy cannot be written."""
    found = regular_file_inside(tree, source)
    if found is None:
        return None
    target = inside(root, path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():  # replaced, never written through
            target.unlink()
        shutil.copyfile(found, target, follow_symlinks=False)
    except OSError as e:
        raise write_failed(target, e) from None
    return target


def create_new(root: Path, path: Path, text: str) -> list[Path]:
    """Creates `root/path` and the folders it needs below `root`, refusing any that exists
    or any symlink on the way: folders with mkdir (which never follows a final link), the
    file with O_CREAT | O_EXCL | O_NOFOLLOW. Returns what it made, parents first, so that
    a caller can remove it again.

    Raises:
        GanbenchError: a symlink or a non-folder stands where a folder goes, or the file
            exists.
        OSError: the file system refused (the caller names it)."""
    made: list[Path] = []
    folder = root
    for part in path.parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise GanbenchError(
                f"{folder}: a symlink; refused: new files go into real folders only"
            )
        if not folder.exists():
            folder.mkdir()
            made.append(folder)
        elif not folder.is_dir():
            raise GanbenchError(f"{folder}: not a folder, and a folder goes there")
    target = root / path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise GanbenchError(f"{target}: already exists (or is a symlink); refused") from None
    made.append(target)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return made
