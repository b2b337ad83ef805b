"""core/v1 Events, aggregated like client-go's recorder: a repeat bumps `count` instead of piling up.

A repeat is the same object, type, reason, message and component. The recorder correlates in
memory, as kubelet's does: it remembers the events it wrote (bounded LRU) and bumps them with a
merge patch, so `create` and `patch` on events are all it needs (upstream's RBAC grants no more).
After a restart a repeat starts a new Event. Messages are scrubbed of anything token-shaped and
clipped to what the API accepts.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

from certcsi.errors import KubernetesError
from certcsi.kube._resources import EVENTS
from certcsi.kube._transport import MERGE_PATCH, Transport
from certcsi.redact import scrub

EventKind = Literal["Normal", "Warning"]
MAX_EVENT_MESSAGE = 1024
CACHE_SIZE = 4096


class InvolvedObject(TypedDict):
    """The object an event is about (`involvedObject`)."""

    kind: str
    namespace: str
    name: str
    uid: str
    apiVersion: NotRequired[str]


@dataclass(frozen=True)
class _Event:
    """What makes two events "the same" (and therefore one event with a count)."""

    namespace: str
    kind: str
    name: str
    uid: str
    api_version: str
    type: str
    reason: str
    message: str
    component: str

    def body(self, moment: datetime) -> dict[str, Any]:
        stamp = _rfc3339(moment)
        involved = {"kind": self.kind, "namespace": self.namespace, "name": self.name, "uid": self.uid}
        if self.api_version:
            involved["apiVersion"] = self.api_version
        return {
            "apiVersion": "v1",
            "kind": "Event",
            # client-go names events <object>.<unix nanoseconds in hex>.
            "metadata": {"name": f"{self.name}.{int(moment.timestamp() * 1e9):x}", "namespace": self.namespace},
            "involvedObject": involved,
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }


@dataclass(frozen=True)
class _Recorded:
    name: str
    count: int


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(
        self,
        transport: Transport,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._transport = transport
        self._now = now
        self._cache: OrderedDict[_Event, _Recorded] = OrderedDict()
        self._cache_size = cache_size

    async def record(
        self,
        *,
        involved: InvolvedObject,
        type: EventKind,
        reason: str,
        message: str,
        component: str,
    ) -> None:
        event = _Event(
            namespace=involved.get("namespace") or "default",
            kind=involved["kind"],
            name=involved["name"],
            uid=involved.get("uid", ""),
            api_version=involved.get("apiVersion", ""),
            type=type,
            reason=reason,
            message=scrub(message)[:MAX_EVENT_MESSAGE],
            component=component,
        )
        moment = self._now()
        previous = self._cache.get(event)
        if previous is not None:
            bumped = await self._bump(event.namespace, previous, _rfc3339(moment))
            if bumped is not None:
                self._remember(event, bumped)
                return
        self._remember(event, await self._create(event, moment))

    def _remember(self, event: _Event, recorded: _Recorded) -> None:
        self._cache[event] = recorded
        self._cache.move_to_end(event)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _create(self, event: _Event, moment: datetime) -> _Recorded:
        body = event.body(moment)
        path = EVENTS.collection(event.namespace)
        try:
            await self._transport.request("POST", path, body=body)
        except KubernetesError as err:
            if err.status != 409:
                raise
            # Two events for one object in the same nanosecond: make the name unique and retry once.
            body["metadata"]["name"] += uuid.uuid4().hex[:8]
            await self._transport.request("POST", path, body=body)
        return _Recorded(body["metadata"]["name"], 1)

    async def _bump(self, namespace: str, previous: _Recorded, stamp: str) -> _Recorded | None:
        count = previous.count + 1
        try:
            await self._transport.request(
                "PATCH",
                EVENTS.item(namespace, previous.name),
                body={"count": count, "lastTimestamp": stamp},
                content_type=MERGE_PATCH,
            )
        except KubernetesError as err:
            if err.status != 404:
                raise
            return None  # the event expired (events live about an hour): start a new one
        return _Recorded(previous.name, count)
