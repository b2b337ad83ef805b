"""The small files a volume keeps (metadata.json, status.json, driver.json), read with three system calls.

A restarted driver reads them for every volume of the node (10,000 and more): open, one read, close,
where a Python file object adds an fstat, an ioctl and a second read to each.
"""

from __future__ import annotations

import os
from pathlib import Path

# Larger than any of these files (a volume context is at most a few kilobytes).
CHUNK = 64 * 1024


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
