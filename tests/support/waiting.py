"""Waiting for the event a test is about, with a generous deadline instead of a wall-clock bound."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

__all__ = ["eventually"]


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.05,
) -> None:
    """Poll `predicate` (plain or async) until true; on timeout fail with `what` (a text, or a function giving one)."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for {detail}")
        await asyncio.sleep(interval)
