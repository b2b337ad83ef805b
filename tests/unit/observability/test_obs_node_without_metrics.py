"""A node whose metrics are not served keeps none: no per-volume series, no prometheus registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from certcsi.endpoints import BindAddress
from certcsi.errors import IssuerUnavailable
from certcsi.kube import WatchEvent
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.observability.node import NodeTelemetry
from certcsi.volumes.driver import Volume


class NoKube:
    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        raise AssertionError("not called")

    async def delete_certificate_request(self, namespace: str, name: str) -> None:
        raise AssertionError("not called")

    async def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[WatchEvent]:
        raise AssertionError("not called")
        yield  # pragma: no cover

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
    ) -> None:
        raise AssertionError("not called")


def telemetry(readiness: BindAddress | None = None) -> NodeTelemetry:
    return NodeTelemetry(
        kube=NoKube(),
        node_id="node-1",
        component="csi.cert-manager.io",
        metrics_address=None,
        readiness_address=readiness,
    )


async def test_nothing_is_counted_nor_served() -> None:
    node = telemetry()
    assert node.metrics is None
    await node.start()
    assert node.endpoints == []
    volume = Volume(volume_id="vol-1", target_path="/t", attributes={})
    node.observer.issuing(volume)
    node.observer.failed(volume, IssuerUnavailable("down"), request_name=None, first=True)
    node.observer.forgotten("vol-1")
    await node.stop()


async def test_a_readiness_address_alone_serves_the_probes_and_no_metrics() -> None:
    node = telemetry(BindAddress(host="127.0.0.1", port=0))
    await node.start()
    try:
        (endpoint,) = node.endpoints
        base = f"http://127.0.0.1:{endpoint.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/healthz") as response:
                assert response.status == 200
            async with session.get(base + "/metrics") as response:
                assert response.status == 404
    finally:
        await node.stop()
