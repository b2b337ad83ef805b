"""Python's cyclic garbage collector paused around bulk work that makes many objects and no cycles.

Each collection that allocations trigger scans the objects still alive; while a restart decodes
10,000 requests or resumes 10,000 volumes, that is rescanning what was just made, for nothing.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block (reference counting still frees everything at once), unless it
    was off already; on again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
