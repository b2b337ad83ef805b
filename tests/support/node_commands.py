"""Running `certcsi driver` / `certcsi spiffe-driver` in a test without starting anything."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from certcsi import nodeplugin
from certcsi.cli import node as node_commands


def collect_runs(monkeypatch: pytest.MonkeyPatch, pick: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """What each invoked command would have run, as `pick(run_node_plugin's keyword arguments)`."""
    seen: list[Any] = []

    async def fake_run(**kwargs: Any) -> None:
        seen.append(pick(kwargs))

    def run_once(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        async def once() -> None:
            await main(asyncio.Event())

        asyncio.run(once())

    monkeypatch.setattr(nodeplugin, "run_node_plugin", fake_run)
    monkeypatch.setattr(node_commands, "run_until_signalled", run_once)
    return seen
