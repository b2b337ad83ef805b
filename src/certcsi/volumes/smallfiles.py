"""The small files a volume keeps (metadata.json, status.json, driver.json): read with three system calls,
replaced atomically with a handful.

A restarted driver reads them for every volume of the node (10,000 and more): open, one read, close,
where a Python file object adds an fstat, an ioctl and a second read to each. Every publish and
renewal writes two or three of them, so the write path avoids `tempfile` (random names built in
Python) and file objects too.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

# Larger than any of these files (a volume context is at most a few kilobytes).
CHUNK = 64 * 1024
# A temp file is `.<name>.<process tag>-<n>.tmp`: hidden, and what the store's scan removes after a crash.
TEMP_SUFFIX = ".tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _process_tag() -> str:
    # The pid alone repeats across restarts (pid 1 in every container): the random part keeps a new
    # process clear of what an earlier one left, and O_EXCL plus a retry covers the rest.
    return f"{os.getpid()}{os.urandom(3).hex()}"


_tag = _process_tag()
_serial = itertools.count()


def _new_tag() -> None:
    global _tag, _serial
    _tag, _serial = _process_tag(), itertools.count()


os.register_at_fork(after_in_child=_new_tag)


def unique_suffix() -> str:
    """A name part no other live process and no earlier call of this one produces: `<process tag>-<n>`."""
    return f"{_tag}-{next(_serial)}"


def read_small_file(path: Path | str, *, limit: int | None = None) -> bytes | None:
    """The file's content; None when it does not exist. With `limit`, at most `limit` + 1 bytes are read,
    so that the caller can tell a file larger than `limit`. Any other OSError raises (a directory). A
    FIFO put in a file's place never blocks the driver: it reads empty, or fails."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        cap = None if limit is None else limit + 1
        chunks: list[bytes] = []
        total = 0
        while cap is None or total < cap:
            size = CHUNK if cap is None else min(CHUNK, cap - total)
            chunk = os.read(fd, size)
            chunks.append(chunk)
            total += len(chunk)
            if len(chunk) < size:  # a short read of a regular file is its end
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def write_all(fd: int, content: bytes) -> None:
    """os.write until every byte is written (a regular file takes them in one call; a full tmpfs raises)."""
    written = os.write(fd, content)
    if written < len(content):
        view = memoryview(content)[written:]
        while view:
            view = view[os.write(fd, view) :]


def fsync_dir(path: str) -> None:
    """Make the directory's entries (a rename into it) durable; a no-op on tmpfs, not on a disk data root."""
    fd = os.open(path, _DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_small_file(directory: str, name: str, content: bytes, *, durable: bool) -> None:
    """Replace `<directory>/<name>` with `content` (0600) atomically: a reader or a crash sees the old file or
    the new one, never a torn one. The temp file beside it is created with O_EXCL and never followed.

    `durable`: fsync the file before the rename and the directory after it, so that a data root on a
    disk (--unsafe-no-mount) holds old or new after a power loss too.
    """
    prefix = f"{directory}/.{name}."
    while True:
        tmp = f"{prefix}{unique_suffix()}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, _CREATE, 0o600)
            break
        except FileExistsError:  # left by an earlier process with the same tag: not ours to touch
            continue
    try:
        try:
            write_all(fd, content)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, f"{directory}/{name}")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(directory)
