"""`Kube`: the typed face of the Kubernetes API that all product code uses.

One class per resource family is mixed in (requests, pods, events; configmaps and leases slot in
the same way), all sharing one `Transport`, hence one connection pool and one QPS budget.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from certcsi.kube import watching
from certcsi.kube._transport import BaseTransport, Transport
from certcsi.kube.approvals import Approvals
from certcsi.kube.configmaps import ConfigMaps
from certcsi.kube.events import EventKind, EventRecorder, InvolvedObject
from certcsi.kube.leases import Leases
from certcsi.kube.pods import Pods
from certcsi.kube.requests import CertificateRequests


class Kube(CertificateRequests, Pods, ConfigMaps, Leases, Approvals):
    """A connection to one API server. Close it (or use `async with`) to release its sockets."""

    def __init__(self, transport: Transport, *, watch_timeout: Callable[[], int] | None = None) -> None:
        """`watch_timeout` gives each watch request's timeoutSeconds (default: 30-45 s, see `watching`)."""
        self._transport = transport
        self._watch_timeout = watch_timeout or watching.timeout_seconds_between(*watching.DEFAULT_TIMEOUT_SECONDS)
        self._events = EventRecorder(transport)

    async def close(self) -> None:
        if isinstance(self._transport, BaseTransport):
            await self._transport.close()

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def record_event(
        self,
        *,
        involved: InvolvedObject,
        type: EventKind,
        reason: str,
        message: str,
        component: str,
        count: int = 1,
    ) -> None:
        """Record `count` occurrences of a core/v1 Event about `involved`, bumping `count` on an identical repeat."""
        await self._events.record(
            involved=involved, type=type, reason=reason, message=message, component=component, count=count
        )
