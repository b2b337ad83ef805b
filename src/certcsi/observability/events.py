"""Events on the Pod, so `kubectl describe pod` says why its certificate did not come.

Recording never blocks the engine: `emit()` only queues. A few writer tasks (`concurrency`) drain
the queue, so a burst of issuances costs no task per event. They start `linger` seconds after the
first event of a batch, as Nagle's algorithm would: an Event is for people reading `kubectl describe
pod`, a publish is what a pod waits for, and writing each Event at once put its API call (and the
API server's work on it) in the way of the next pod's publish. An event identical to one still
queued (same pod, type, reason and message) adds to its count instead of taking a place; the queue
holds `backlog` distinct events, and what cannot be recorded (queue full, API refusing, shutdown)
is counted by reason through `on_drop` (a metric), never lost silently.

Repeats are aggregated by `Kube.record_event` too, as client-go's recorder does (same pod, type,
reason and message: `count` goes up). The engine's error messages name the CertificateRequest,
which is new on every attempt, so `issuance_event` replaces `request "<name>"` by
"CertificateRequest": a pod whose requests keep being denied gets one Event with a growing count.

Upstream's RBAC grants the drivers no events. A 403 is logged once; recording then pauses (5
minutes, doubling up to an hour) and tries again with the next event after the pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
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

__all__ = ["DROP_REASONS", "EventsApi", "PodEvent", "PodEvents", "issuance_event"]

# Why an event was not recorded: the queue was full, RBAC forbids events, the write failed, the
# process stopped first.
DROP_REASONS = ("backlog", "forbidden", "error", "shutdown")
FORBIDDEN_PAUSE = 300.0
FORBIDDEN_PAUSE_CAP = 3600.0
# Long enough to take the writes out of back-to-back publishes (a few ms each), short enough for a person.
LINGER = 0.05


class EventsApi(Protocol):
    """`certcsi.kube.Kube` implements it."""

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
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


_Key = tuple[str, str, str, str, str, str]  # namespace, name, uid, type, reason, message


@dataclass
class _Queued:
    involved: InvolvedObject
    event: PodEvent
    count: int


class PodEvents:
    """Queued Event recording: bounded writers, a bounded queue of distinct events, counted drops."""

    def __init__(
        self,
        *,
        api: EventsApi,
        component: str,
        concurrency: int = 4,
        backlog: int = 4096,
        linger: float = LINGER,
        on_drop: Callable[[str, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1 or backlog < 1:
            raise ValueError("events: concurrency and backlog must be at least 1")
        self._api = api
        self._component = component
        self._concurrency = concurrency
        self._backlog = backlog
        self._linger = linger
        self._on_drop = on_drop
        self._clock = clock
        self._queue: OrderedDict[_Key, _Queued] = OrderedDict()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writing = 0
        self._writers: list[asyncio.Task[None]] = []
        self._wake: asyncio.TimerHandle | None = None
        self._paused_until = 0.0
        self._pause = 0.0
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._closed = False

    def emit(self, volume: Volume, event: PodEvent) -> None:
        """Record `event` on the volume's Pod in the background; returns at once."""
        involved = involved_pod(volume)
        if involved is None or self._closed:
            return
        if self._paused_until and self._clock() < self._paused_until:
            self._drop("forbidden", 1)
            return
        key = (involved["namespace"], involved["name"], involved["uid"], event.type, event.reason, event.message)
        queued = self._queue.get(key)
        if queued is not None:
            queued.count += 1
            return
        if len(self._queue) >= self._backlog:
            self._drop("backlog", 1)
            return
        self._queue[key] = _Queued(involved, event, 1)
        self._idle.clear()
        loop = asyncio.get_running_loop()
        if not self._writers:
            self._writers = [
                loop.create_task(self._write_queued(), name="certcsi-pod-events") for _ in range(self._concurrency)
            ]
        # Writers already draining take it with the rest; otherwise it opens a batch.
        if not self._ready.is_set() and self._wake is None:
            if self._linger > 0:
                self._wake = loop.call_later(self._linger, self._write_now)
            else:
                self._ready.set()

    def _write_now(self) -> None:
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        self._ready.set()

    async def _write_queued(self) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                _, queued = self._queue.popitem(last=False)
                self._writing += queued.count
                try:
                    await self._record(queued)
                finally:
                    self._writing -= queued.count
            if self._writing == 0:
                self._idle.set()
            self._ready.clear()  # the next event opens a new batch

    async def _record(self, queued: _Queued) -> None:
        if self._paused_until and self._clock() < self._paused_until:
            self._drop("forbidden", queued.count)
            return
        event, involved = queued.event, queued.involved
        try:
            await self._api.record_event(
                involved=involved,
                type=event.type,
                reason=event.reason,
                message=event.message,
                component=self._component,
                count=queued.count,
            )
        except KubernetesError as err:
            if err.status == 403:
                self._forbidden(err, queued.count)
                return
            self._failed(involved, event, err, queued.count)
        except Exception as err:  # an event is best effort; the engine never hears of it
            self._failed(involved, event, err, queued.count)
        else:
            if self._paused_until:
                log.info("recording Pod events again: the API server accepts them now")
                self._paused_until = self._pause = 0.0

    def _forbidden(self, err: KubernetesError, count: int) -> None:
        self._drop("forbidden", count)
        first = self._pause == 0.0
        self._pause = min(FORBIDDEN_PAUSE_CAP, self._pause * 2 or FORBIDDEN_PAUSE)
        self._paused_until = self._clock() + self._pause
        # Once, not per issuance: upstream's RBAC grants no events, so this is the normal case there.
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "the API server forbids this driver to record Pod events (RBAC: events create, patch); "
            "not recording them for a while",
            extra={"error": str(err), "retry_in_s": self._pause},
        )

    def _failed(self, involved: InvolvedObject, event: PodEvent, err: Exception, count: int) -> None:
        self._drop("error", count)
        log.warning(
            "could not record Pod event",
            extra={"pod": f"{involved['namespace']}/{involved['name']}", "reason": event.reason, "error": str(err)},
        )

    def _drop(self, reason: str, count: int) -> None:
        self.dropped[reason] += count
        if self._on_drop is not None:
            self._on_drop(reason, count)
        dropped = self.dropped[reason]
        if reason == "backlog" and (dropped == 1 or dropped % self._backlog == 0):  # once per burst
            log.warning("dropping Pod events: too many waiting to be written", extra={"dropped": dropped})

    async def flush(self) -> None:
        """Write what waits for its batch now; return once every event emitted so far is written or dropped."""
        if not self._idle.is_set():
            self._write_now()
        await self._idle.wait()

    async def close(self, *, grace: float = 2.0) -> None:
        """Stop taking events; give the queue `grace` seconds, then count what is left as dropped."""
        self._closed = True
        writing = 0
        if self._writers:
            if not self._idle.is_set():
                self._write_now()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
            writing = self._writing
            for writer in self._writers:
                writer.cancel()
            await asyncio.gather(*self._writers, return_exceptions=True)
            self._writers = []
        left = sum(queued.count for queued in self._queue.values()) + writing
        self._queue.clear()
        if left:
            self._drop("shutdown", left)
