"""Requests are decided concurrently, but never more at once than there are workers."""

from __future__ import annotations

import asyncio

from approver_support import POLICY
from controller_support import FakeApprovalApi, named, running, until


async def test_at_most_workers_requests_are_in_flight() -> None:
    api = FakeApprovalApi()
    for n in range(10):
        api.put(named(f"cr-{n}"))
    gate = asyncio.Event()
    in_flight: list[int] = [0, 0]  # now, most

    async def slow(namespace: str, name: str) -> None:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await gate.wait()
        in_flight[0] -= 1

    api.before_write = slow
    async with running(api, POLICY, workers=3):
        await until(lambda: in_flight[0] == 3)
        for _ in range(20):
            await asyncio.sleep(0)
        assert in_flight == [3, 3]
        gate.set()
        await until(lambda: all(api.condition(f"cr-{n}") is not None for n in range(10)))

    assert in_flight[1] == 3
    assert len(api.writes_attempted) == 10


async def test_one_request_is_never_decided_by_two_workers_at_once() -> None:
    api = FakeApprovalApi()
    api.put(named("busy"))
    gate = asyncio.Event()
    writing: list[str] = []

    async def slow(namespace: str, name: str) -> None:
        writing.append(name)
        assert writing.count(name) == 1 or gate.is_set()
        await gate.wait()

    api.before_write = slow
    async with running(api, POLICY, workers=4):
        await until(lambda: writing == ["busy"])
        for n in range(3):  # new versions arrive while it is being written
            changed = api.request("busy")
            changed["metadata"]["labels"] = {"n": str(n)}
            api.put(changed)
        for _ in range(20):
            await asyncio.sleep(0)
        assert writing == ["busy"]
        gate.set()
        await until(lambda: api.condition("busy") is not None)
