"""/healthz, /readyz and /metrics: codes and bodies, one server per distinct address."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
import pytest

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

    async def metrics(names: frozenset[str]) -> list[bytes]:
        asked.append(names)
        return [b"certcsi_renewals_total 0.0\n", b"certcsi_pod_events_dropped_total 0.0\n"]

    endpoints = node_endpoints(health=health, metrics=metrics, metrics_address=LOOPBACK, readiness_address=None)
    async with serving(endpoints) as (base,):
        assert await get(f"{base}/healthz") == (200, "ok")
        assert await get(f"{base}/readyz") == (503, "volume state not loaded yet")
        state["ready"] = None
        assert await get(f"{base}/readyz") == (200, "ok")
        status, body = await get(f"{base}/metrics")
        assert (status, body) == (200, "certcsi_renewals_total 0.0\ncertcsi_pod_events_dropped_total 0.0\n")
        async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
            assert response.headers["Content-Length"] == str(len(body))  # the chunks sent as one body
            assert "Transfer-Encoding" not in response.headers
        await get(f"{base}/metrics?name[]=certcsi_key_pool_keys&name[]=certcsi_renewals_total")
    assert asked == [frozenset(), frozenset(), {"certcsi_key_pool_keys", "certcsi_renewals_total"}]


async def large_metrics(names: frozenset[str]) -> list[bytes]:
    """More than loopback's socket buffers hold: the writer has to wait for the reader."""
    return [b"#" * 255 + b"\n"] * 1024 * 64  # 16 MiB in 64 Ki chunks


async def test_a_head_request_gets_the_length_and_no_body(caplog: pytest.LogCaptureFixture) -> None:
    health = Health(alive=lambda: None, ready=lambda: None)
    endpoints = node_endpoints(health=health, metrics=large_metrics, metrics_address=LOOPBACK, readiness_address=None)
    async with serving(endpoints) as (base,), aiohttp.ClientSession() as session:
        async with session.head(f"{base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == str(16 * 1024 * 1024)
            assert await response.read() == b""
        assert await get(f"{base}/healthz") == (200, "ok")  # the connection is still usable
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_scraper_leaving_mid_answer_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    health = Health(alive=lambda: None, ready=lambda: None)
    endpoints = node_endpoints(health=health, metrics=large_metrics, metrics_address=LOOPBACK, readiness_address=None)
    async with serving(endpoints) as (base,):
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await reader.readexactly(1024)
        writer.transport.abort()  # a scrape timeout: the connection reset with most of the answer unsent
        await asyncio.sleep(0.2)
        status, body = await get(f"{base}/metrics")
        assert status == 200 and len(body) == 16 * 1024 * 1024
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_failing_liveness_check_is_a_503_with_the_reason() -> None:
    health = Health(alive=lambda: "the CertificateRequest watch has stopped", ready=lambda: None)
    endpoints = node_endpoints(health=health, metrics=None, metrics_address=None, readiness_address=LOOPBACK)
    async with serving(endpoints) as (base,):
        assert await get(f"{base}/healthz") == (503, "the CertificateRequest watch has stopped")
        status, _ = await get(f"{base}/metrics")
        assert status == 404  # the readiness address serves probes only


async def no_metrics(names: frozenset[str]) -> list[bytes]:
    return []


def test_addresses() -> None:
    health = Health(alive=lambda: None, ready=lambda: None)
    same = BindAddress(host="127.0.0.1", port=9402)
    assert node_endpoints(health=health, metrics=None, metrics_address=None, readiness_address=None) == []
    merged = node_endpoints(health=health, metrics=no_metrics, metrics_address=same, readiness_address=same)
    assert len(merged) == 1
    other = BindAddress(host="127.0.0.1", port=6060)
    endpoints = node_endpoints(health=health, metrics=no_metrics, metrics_address=same, readiness_address=other)
    assert len(endpoints) == 2
