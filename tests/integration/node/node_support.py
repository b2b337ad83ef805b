"""Helpers of the node tests: wait for what the sandbox does in its own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], *, what: str, timeout: float = 30.0) -> Any:
    """The first truthy result of `check()` (polled every 50 ms); fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return found
