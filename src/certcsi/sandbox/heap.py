"""The sandbox server's garbage collector: its start-up heap frozen, and young collections spaced out.

What the API server keeps (stored objects, watch events, answers) is plain JSON-shaped data with no
reference cycles; each collection the allocations of a request trigger rescans it, for nothing.
"""

from __future__ import annotations

import gc

# Allocations between two young collections (CPython's default is 700): a driver-shaped request makes a
# few thousand objects, so the default collects several times per request.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Once serving: collect what start-up left, keep what survives out of every later collection
    (CPython's permanent generation), and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
