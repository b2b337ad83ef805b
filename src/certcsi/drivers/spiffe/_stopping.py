"""Run a long-lived coroutine until a stop signal, the shape every background task here takes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run `work` until it returns or `stop` is set (then cancel it); its exceptions propagate."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopped):
            pending.cancel()
        # Collect both so nothing is left running, then let `work`'s own failure surface.
        with contextlib.suppress(asyncio.CancelledError):
            await stopped
        with contextlib.suppress(asyncio.CancelledError):
            await task
