"""/healthz, /readyz and /metrics: codes and bodies, one server per distinct address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp

from certcsi.endpoints import BindAddress, HttpEndpoint
from certcsi.observability.serving import Health, node_endpoints

LOOPBACK = BindAddress(host="127.0.0.1", port=0)


@asynccontextmanager
async def serving(endpoints: Sequence[HttpEndpoint]) -> AsyncIterator[list[str]]:
    for endpoint in endpoints:
        await endpoint.start()
    try:
        yield [f"http://127.0.0.1:{endpoint.port}" for endpoint in endpoints]
    finally:
        for endpoint in endpoints:
            await endpoint.stop()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_probes_and_metrics_on_the_metrics_address() -> None:
    state: dict[str, str | None] = {"ready": "volume state not loaded yet"}
    health = Health(alive=lambda: None, ready=lambda: state["ready"])
    asked: list[frozenset[str]] = []

    def metrics(names: frozenset[str]) -> bytes:
        asked.append(names)
        return b"certcsi_renewals_total 0.0\n"

    endpoints = node_endpoints(health=health, metrics=metrics, metrics_address=LOOPBACK, readiness_address=None)
    async with serving(endpoints) as (base,):
        assert await get(f"{base}/healthz") == (200, "ok")
        assert await get(f"{base}/readyz") == (503, "volume state not loaded yet")
        state["ready"] = None
        assert await get(f"{base}/readyz") == (200, "ok")
        status, body = await get(f"{base}/metrics")
        assert status == 200 and "certcsi_renewals_total" in body
        await get(f"{base}/metrics?name[]=certcsi_key_pool_keys&name[]=certcsi_renewals_total")
    assert asked == [frozenset(), {"certcsi_key_pool_keys", "certcsi_renewals_total"}]


async def test_a_failing_liveness_check_is_a_503_with_the_reason() -> None:
    health = Health(alive=lambda: "the CertificateRequest watch has stopped", ready=lambda: None)
    endpoints = node_endpoints(health=health, metrics=None, metrics_address=None, readiness_address=LOOPBACK)
    async with serving(endpoints) as (base,):
        assert await get(f"{base}/healthz") == (503, "the CertificateRequest watch has stopped")
        status, _ = await get(f"{base}/metrics")
        assert status == 404  # the readiness address serves probes only


def test_addresses() -> None:
    health = Health(alive=lambda: None, ready=lambda: None)
    same = BindAddress(host="127.0.0.1", port=9402)
    assert node_endpoints(health=health, metrics=None, metrics_address=None, readiness_address=None) == []
    merged = node_endpoints(health=health, metrics=lambda names: b"", metrics_address=same, readiness_address=same)
    assert len(merged) == 1
    other = BindAddress(host="127.0.0.1", port=6060)
    endpoints = node_endpoints(health=health, metrics=lambda names: b"", metrics_address=same, readiness_address=other)
    assert len(endpoints) == 2
