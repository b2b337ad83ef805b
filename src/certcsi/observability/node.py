"""Everything observable about one node driver process, assembled for `run_node_plugin`.

telemetry = NodeTelemetry(kube=kube, node_id=..., component=driver.name, metrics_address=..., ...)
issuance = Issuance(kube=telemetry.requests, ...)       # so /readyz knows when the watch has listed
manager = Manager(..., observer=telemetry.observer)     # metrics and Pod events on every issuance
telemetry.attach(manager=manager, issuance=issuance, now=clock.now)
await telemetry.start() ... await telemetry.stop()

Metrics exist only when they are served (`metrics_address`): without it nobody could read them, so
no per-volume series is kept, and neither prometheus_client nor aiohttp's server is even imported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from certcsi.kube import WatchEvent
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.observability.events import PodEvents
from certcsi.observability.observer import NodeObserver
from certcsi.volumes.issuance import fnv_hash_label
from certcsi.volumes.reporting import VolumeView

if TYPE_CHECKING:
    from certcsi.endpoints import BindAddress, HttpEndpoint
    from certcsi.observability.metrics import KeyCounts, NodeMetrics, RequestsView

log = logging.getLogger(__name__)

__all__ = ["NodeTelemetry", "WatchedRequests"]


class KubeApi(Protocol):
    """The calls of `certcsi.kube.Kube` used here: CertificateRequests for the engine, and Events."""

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> dict[str, Any]: ...

    async def delete_certificate_request(self, namespace: str, name: str) -> None: ...

    async def list_certificate_requests(self, label_selector: str) -> list[dict[str, Any]]: ...

    def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[WatchEvent]: ...

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
    ) -> None: ...


class ReadyEngine(Protocol):
    """The engine as telemetry reads it (`Manager`); `snapshot_in_slices` is `metrics.EngineView`'s."""

    def snapshot_in_slices(self, size: int) -> Iterator[list[VolumeView]]: ...

    def ready(self) -> str | None: ...


class WatchedRequests:
    """The engine's CertificateRequest calls, passed through; notes when the node's watch has listed
    everything (its SYNCED event) and whether the watch still runs. (Each request's issuer, for the
    metrics' labels, is in the engine's cache: `RequestState.issuer`.)
    """

    def __init__(self, kube: KubeApi) -> None:
        self._kube = kube
        self.synced = False
        self.watching = False

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        return await self._kube.create_certificate_request(namespace, body, token=token)

    async def delete_certificate_request(self, namespace: str, name: str) -> None:
        await self._kube.delete_certificate_request(namespace, name)

    async def list_certificate_requests(self, label_selector: str) -> list[dict[str, Any]]:
        return await self._kube.list_certificate_requests(label_selector)

    async def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[WatchEvent]:
        self.watching = True
        try:
            async for event in self._kube.watch_certificate_requests(label_selector):
                if event.type == "SYNCED":
                    self.synced = True
                yield event
        finally:
            self.watching = False


class NodeTelemetry:
    def __init__(
        self,
        *,
        kube: KubeApi,
        node_id: str,
        component: str,
        metrics_address: BindAddress | None,
        readiness_address: BindAddress | None,
        keys: KeyCounts | None = None,
    ) -> None:
        self.requests = WatchedRequests(kube)
        self.metrics: NodeMetrics | None = None
        if metrics_address is not None:
            from certcsi.observability.metrics import NodeMetrics

            self.metrics = NodeMetrics(node_hash=fnv_hash_label(node_id), keys=keys)
        on_drop = self.metrics.events_dropped if self.metrics is not None else None
        self.events = PodEvents(api=kube, component=component, on_drop=on_drop)
        self.observer = NodeObserver(metrics=self.metrics, events=self.events)
        self._addresses = (metrics_address, readiness_address)
        self._endpoints: list[HttpEndpoint] = []
        self._engine: ReadyEngine | None = None
        self._stopping = False

    def attach(self, *, manager: ReadyEngine, issuance: RequestsView, now: Callable[[], datetime]) -> None:
        """Compute the gauges from `manager` and `issuance` at each scrape; answer /readyz from them."""
        self._engine = manager
        if self.metrics is not None:
            self.metrics.attach(engine=manager, requests=issuance, now=now)

    def alive(self) -> str | None:
        if self._stopping:
            return "shutting down"
        if self.requests.synced and not self.requests.watching:
            return "the CertificateRequest watch has stopped"
        return None

    def ready(self) -> str | None:
        if self._engine is None:
            return "starting"
        if (why := self._engine.ready()) is not None:
            return why
        if not self.requests.synced:
            return "CertificateRequests not yet listed from the API server"
        return self.alive()

    @property
    def endpoints(self) -> list[HttpEndpoint]:
        return list(self._endpoints)

    async def start(self) -> None:
        """Listen on the configured addresses (before the engine starts, so probes answer meanwhile)."""
        metrics_address, readiness_address = self._addresses
        if metrics_address is None and readiness_address is None:
            return
        from certcsi.observability.serving import Health, node_endpoints

        self._endpoints = node_endpoints(
            health=Health(alive=self.alive, ready=self.ready),
            metrics=self.metrics.scrape if self.metrics is not None else None,
            metrics_address=metrics_address,
            readiness_address=readiness_address,
        )
        started: list[HttpEndpoint] = []
        try:
            for endpoint in self._endpoints:
                await endpoint.start()
                started.append(endpoint)
        except BaseException:
            for endpoint in started:
                await endpoint.stop()
            raise

    async def stop(self) -> None:
        self._stopping = True
        for endpoint in self._endpoints:
            await endpoint.stop()
        await self.events.close()
