"""Events on the Pod, so `kubectl describe pod` says why its certificate did not come.

Recording never blocks the engine: `emit()` only starts a task. At most `concurrency` events are
written at once; beyond `backlog` waiting ones, new events are dropped (counted, and logged once
per burst), so an API outage cannot pile up tasks. A failed write is logged and forgotten.

Repeats are aggregated by `Kube.record_event` (same pod, type, reason and message: `count` goes
up). The engine's error messages name the CertificateRequest, which is new on every attempt, so
`issuance_event` replaces `request "<name>"` by "CertificateRequest": a pod whose requests keep
being denied gets one Event with a growing count, not one per retry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from certcsi.errors import (
    IssuanceDenied,
    IssuanceError,
    IssuanceFailed,
    IssuanceTimeout,
    IssuerUnavailable,
    KubernetesError,
)
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.redact import scrub
from certcsi.volumes.driver import Volume

log = logging.getLogger(__name__)

__all__ = ["EventsApi", "PodEvent", "PodEvents", "issuance_event"]


class EventsApi(Protocol):
    """`certcsi.kube.Kube` implements it."""

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str
    ) -> None: ...


@dataclass(frozen=True)
class PodEvent:
    type: EventKind
    reason: str
    message: str


_WARNINGS: tuple[tuple[type[BaseException], str], ...] = (
    (IssuanceDenied, "IssuanceDenied"),
    (IssuanceTimeout, "IssuanceTimeout"),
    (IssuerUnavailable, "IssuerUnavailable"),
    (IssuanceFailed, "IssuanceFailed"),
    (IssuanceError, "IssuanceFailed"),
    # The API refused the request: most often the pod's service account may not create it (RBAC).
    (KubernetesError, "IssuanceFailed"),
)


def issuance_event(error: BaseException, *, request_name: str | None) -> PodEvent | None:
    """The Warning for a failed issuance; None for errors that are not the issuer's or the API's
    (an invalid volume is already reported by kubelet's FailedMount event)."""
    reason = next((reason for kind, reason in _WARNINGS if isinstance(error, kind)), None)
    if reason is None:
        return None
    message = str(error)
    if request_name:
        message = message.replace(f'request "{request_name}"', "CertificateRequest")
    return PodEvent(type="Warning", reason=reason, message=scrub(message))


def involved_pod(volume: Volume) -> InvolvedObject | None:
    """The volume's Pod as an event's involvedObject; None without pod info (podInfoOnMount off)."""
    if not (volume.pod_namespace and volume.pod_name and volume.pod_uid):
        return None
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "namespace": volume.pod_namespace,
        "name": volume.pod_name,
        "uid": volume.pod_uid,
    }


class PodEvents:
    """Fire-and-forget Event recording with bounded concurrency and a bounded backlog."""

    def __init__(self, *, api: EventsApi, component: str, concurrency: int = 4, backlog: int = 256) -> None:
        if concurrency < 1 or backlog < concurrency:
            raise ValueError("events: concurrency must be at least 1 and backlog at least concurrency")
        self._api = api
        self._component = component
        self._slots = asyncio.Semaphore(concurrency)
        self._backlog = backlog
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self._closed = False

    def emit(self, volume: Volume, event: PodEvent) -> None:
        """Record `event` on the volume's Pod in the background; returns at once."""
        involved = involved_pod(volume)
        if involved is None or self._closed:
            return
        if len(self._tasks) >= self._backlog:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % self._backlog == 0:
                log.warning("dropping Pod events: too many waiting to be written", extra={"dropped": self.dropped})
            return
        task = asyncio.get_running_loop().create_task(self._record(involved, event), name="certcsi-pod-event")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, involved: InvolvedObject, event: PodEvent) -> None:
        async with self._slots:
            try:
                await self._api.record_event(
                    involved=involved,
                    type=event.type,
                    reason=event.reason,
                    message=event.message,
                    component=self._component,
                )
            except Exception as err:  # an event is best effort; the engine never hears of it
                log.warning(
                    "could not record Pod event",
                    extra={
                        "pod": f"{involved['namespace']}/{involved['name']}",
                        "reason": event.reason,
                        "error": str(err),
                    },
                )

    async def flush(self) -> None:
        """Wait until every event emitted so far has been written or has failed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, *, grace: float = 2.0) -> None:
        """Stop taking events; give those in flight `grace` seconds, then cancel the rest."""
        self._closed = True
        pending = list(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
