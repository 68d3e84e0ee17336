"""Opening files that others wrote (docs/security.md), with bounds set before a byte is
read: a FIFO would hang a reader, a device never ends, a symlink may lead anywhere, and a
few kilobytes of deflated zip can inflate to gigabytes.

- `read_regular` and `open_regular` open a path without blocking (O_NONBLOCK: a FIFO
  opens at once), check that what they opened is a regular file, and only then read it,
  `read_regular` up to a stated size.
- `check_archive` refuses a zip archive (a weights file) whose tensors are compressed
  (torch.save and TorchScript write them stored: their bytes on disk are their size), or
  whose other members would inflate beyond a stated bound.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

from ganbench.errors import GanbenchError

#: What a file that is not a regular one is, in words.
KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def open_regular(path: Path, follow_symlinks: bool = True) -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file (opened first, then
    checked: no race between the check and the read). `follow_symlinks=False` refuses a
    symlink as the last part of the path.

    Raises:
        GanbenchError: a FIFO, a device, a socket, a folder or (not followed) a symlink.
        OSError: it cannot be opened (FileNotFoundError: missing)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not follow_symlinks and os.path.islink(path):
            raise GanbenchError(f"{path}: a symlink; read only as a regular file") from None
        raise e from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = KINDS.get(stat.S_IFMT(mode), "not a file")
        raise GanbenchError(f"{path}: not a regular file ({kind}); only files are read")
    return os.fdopen(fd, "rb")


def read_regular(path: Path, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes (open_regular).

    Raises:
        GanbenchError: not a regular file, or larger than `limit`.
        OSError: it cannot be read."""
    with open_regular(path, follow_symlinks) as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise GanbenchError(
            f"{path}: {max(size, len(data)):,} bytes, more than the {limit:,} this file "
            "may have; not one ganbench wrote"
        )
    return data


#: What the compressed members of a weights archive may inflate to, together: TorchScript
#: deflates its code (the FID Inception's 30 code files inflate to 58 KB), and nothing else.
MAX_INFLATED = 64 * 2**20


def check_archive(path: Path) -> None:
    """Refuses a zip archive (a weights file) that would inflate, by its members' headers
    alone: torch.save and TorchScript write the tensors' storages (`data/`) and the pickle
    stored, so their bytes on disk are their size; a compressed one is refused, and the
    other compressed members (TorchScript's code) may inflate to MAX_INFLATED together.
    Nothing for a file that is not a zip (torch's legacy format, safetensors).

    Raises:
        ValueError: a storage or the pickle is compressed, or the rest would inflate to
            more than MAX_INFLATED (the member's name in the message)."""
    if not zipfile.is_zipfile(path):
        return
    inflated = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.compress_type == zipfile.ZIP_STORED and info.file_size == info.compress_size:
                continue
            if "/data/" in info.filename or info.filename.endswith(".pkl"):
                raise ValueError(
                    f"{info.filename} is compressed ({info.compress_size:,} bytes that "
                    f"inflate to {info.file_size:,}); torch stores tensors uncompressed, so "
                    "this file was made otherwise: save it again with torch.save"
                )
            inflated += info.file_size
            if inflated > MAX_INFLATED:
                raise ValueError(
                    f"{info.filename}: the archive's compressed members inflate to more than "
                    f"{MAX_INFLATED:,} bytes; not a weights file"
                )
