"""The node driver's HTTP side: /metrics, /healthz and /readyz, over aiohttp.

`--metrics-bind-address` serves all three (so one port is enough for a PodMonitor and for probes);
`--readiness-probe-bind-address`, the approver's flag, serves /healthz and /readyz on their own
port when metrics are off or must stay private. Both given the same address: one server.

- /healthz: 200 while the process's event loop answers (a blocked loop cannot answer at all, so the
  probe times out) and `Health.alive` has no complaint. The DaemonSet's liveness probe still goes
  through the livenessprobe sidecar and CSI Probe; this one is for everything else.
- /readyz: 200 once the engine can serve: the data root's tmpfs is mounted, volume state is loaded
  (`Manager.ready()` is None) and the CertificateRequest watch has listed this node's requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from certcsi.endpoints import BindAddress, Exposition, Handler, HttpEndpoint, metrics_handler

__all__ = ["Health", "node_endpoints"]


@dataclass(frozen=True)
class Health:
    """The two questions the probes ask; each answer is None when fine, else why not."""

    alive: Callable[[], str | None]
    ready: Callable[[], str | None]


def _answer(check: Callable[[], str | None]) -> Handler:
    async def handle(_: web.Request) -> web.Response:
        why = check()
        return web.Response(text="ok") if why is None else web.Response(status=503, text=why)

    return handle


def node_endpoints(
    *,
    health: Health,
    metrics: Exposition | None,
    metrics_address: BindAddress | None,
    readiness_address: BindAddress | None,
) -> list[HttpEndpoint]:
    """The servers to start (none when both addresses are None)."""
    probes = {"/healthz": _answer(health.alive), "/readyz": _answer(health.ready)}
    servers: dict[BindAddress, dict[str, Handler]] = {}
    if metrics_address is not None:
        routes = dict(probes)
        if metrics is not None:
            routes["/metrics"] = metrics_handler(metrics, CONTENT_TYPE_LATEST)
        servers[metrics_address] = routes
    if readiness_address is not None:
        servers.setdefault(readiness_address, {}).update(probes)
    return [
        HttpEndpoint(name="metrics" if "/metrics" in routes else "health", address=address, routes=routes)
        for address, routes in servers.items()
    ]
