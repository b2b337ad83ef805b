"""The approver's /readyz, /healthz and /metrics, served by aiohttp, in the sandbox."""

from __future__ import annotations

import asyncio

import aiohttp
from approver_sandbox_support import APP_NAMESPACE, ApproverWorld, eventually, request_body, spiffe_id

from certcsi.approver.controller import Approver, ControllerOptions
from certcsi.approver.running import endpoints_for
from certcsi.endpoints import BindAddress

LOOPBACK = BindAddress(host="127.0.0.1", port=0)


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_readyz_answers_once_the_watch_has_synced_leader_or_not(world: ApproverWorld) -> None:
    first = await world.approver("replica-1")
    await eventually(lambda: first.approver.leading)
    stop = asyncio.Event()
    standby = Approver(api=await world.approver_client(), policy=first.approver.policy, options=ControllerOptions())
    (readiness,) = endpoints_for(standby, readiness=LOOPBACK, metrics=None)
    await readiness.start()
    try:
        assert await _get(readiness.port, "/readyz") == (503, "certificate requests not synced yet")
        task = asyncio.create_task(standby.run(stop))
        await eventually(lambda: standby.ready)
        assert await _get(readiness.port, "/readyz") == (200, "ok")
        assert await _get(readiness.port, "/healthz") == (200, "ok")
        stop.set()
        await task
    finally:
        await readiness.stop()
    await first.stop()


async def test_a_standby_replica_is_ready_too(world: ApproverWorld) -> None:
    first = await world.approver("replica-1")
    await eventually(lambda: first.approver.leading)
    second = await world.approver("replica-2")
    (readiness,) = endpoints_for(second.approver, readiness=LOOPBACK, metrics=None)
    await readiness.start()
    try:
        await eventually(lambda: second.approver.ready)
        assert not second.approver.leading
        assert await _get(readiness.port, "/readyz") == (200, "ok")
    finally:
        await readiness.stop()
    await first.stop()
    await second.stop()


async def test_metrics_show_decisions_by_rule(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    bob = world.account(APP_NAMESPACE, "bob")
    running = await world.approver("replica-1")
    metrics = endpoints_for(running.approver, readiness=None, metrics=LOOPBACK)[0]
    await metrics.start()
    try:
        await world.submit(request_body("ok-1", spiffe_id(APP_NAMESPACE, "alice")), token=alice)
        await world.submit(request_body("ok-2", spiffe_id(APP_NAMESPACE, "bob")), token=bob)
        await world.submit(request_body("forged", spiffe_id(APP_NAMESPACE, "alice")), token=bob)
        await eventually(lambda: all(world.decision(n) is not None for n in ("ok-1", "ok-2", "forged")))

        status, text = await _get(metrics.port, "/metrics")
    finally:
        await metrics.stop()
    assert status == 200
    assert 'certcsi_approver_decisions_total{decision="approved",rule="approved"} 2.0' in text
    assert 'certcsi_approver_decisions_total{decision="denied",rule="spiffe-id"} 1.0' in text
    assert "certcsi_approver_evaluation_seconds_count 3.0" in text
    assert "certcsi_approver_decision_latency_seconds_count 3.0" in text
    assert "certcsi_approver_leader 1.0" in text
    await running.stop()
