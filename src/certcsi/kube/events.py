"""core/v1 Events, aggregated like client-go's recorder: a repeat bumps `count` instead of piling up.

A repeat is the same object, type, reason, message and component. The recorder correlates in
memory, as kubelet's does: it remembers the events it wrote (bounded LRU) and bumps them with a
merge patch, so `create` and `patch` on events are all it needs (upstream's RBAC grants no more).
As client-go's EventAggregator does, events that differ only in their message become one
"(combined from similar events): <latest message>" Event once 10 such messages were seen within
10 minutes. After a restart a repeat starts a new Event. Messages are scrubbed of anything
token-shaped and clipped to what the API accepts.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

from certcsi.errors import KubernetesError
from certcsi.kube._resources import EVENTS
from certcsi.kube._transport import MERGE_PATCH, Transport
from certcsi.redact import scrub
from certcsi.timestamps import rfc3339

EventKind = Literal["Normal", "Warning"]
MAX_EVENT_MESSAGE = 1024
CACHE_SIZE = 4096
# client-go's defaults: 10 distinct messages for one object, type and reason within 10 minutes.
AGGREGATE_MAX_MESSAGES = 10
AGGREGATE_INTERVAL_SECONDS = 600.0
COMBINED = "(combined from similar events)"


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
        stamp = rfc3339(moment)
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


@dataclass
class _Similar:
    """The messages seen for one object, type, reason and component since `since`."""

    since: datetime
    messages: set[str]




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
        self._similar: OrderedDict[_Event, _Similar] = OrderedDict()
        self._cache_size = cache_size

    async def record(
        self,
        *,
        involved: InvolvedObject,
        type: EventKind,
        reason: str,
        message: str,
        component: str,
        count: int = 1,
    ) -> None:
        """Record `count` occurrences (more than one when the caller coalesced repeats)."""
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
        shown = event.message
        if self._combined(event, moment):
            event = replace(event, message=COMBINED)
            shown = f"{COMBINED}: {shown}"[:MAX_EVENT_MESSAGE]
        previous = self._cache.get(event)
        if previous is not None:
            bumped = await self._bump(event.namespace, previous, rfc3339(moment), count=count, message=shown)
            if bumped is not None:
                self._remember(event, bumped)
                return
        self._remember(event, await self._create(replace(event, message=shown), moment, count=count))

    def _combined(self, event: _Event, moment: datetime) -> bool:
        """Whether `event` is one of too many similar ones (same but for the message) of late."""
        key = replace(event, message="")
        similar = self._similar.get(key)
        if similar is None or (moment - similar.since).total_seconds() > AGGREGATE_INTERVAL_SECONDS:
            similar = _Similar(since=moment, messages=set())
        if len(similar.messages) < AGGREGATE_MAX_MESSAGES:
            similar.messages.add(event.message)
        self._similar[key] = similar
        self._similar.move_to_end(key)
        while len(self._similar) > self._cache_size:
            self._similar.popitem(last=False)
        return len(similar.messages) >= AGGREGATE_MAX_MESSAGES

    def _remember(self, event: _Event, recorded: _Recorded) -> None:
        self._cache[event] = recorded
        self._cache.move_to_end(event)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _create(self, event: _Event, moment: datetime, *, count: int) -> _Recorded:
        body = event.body(moment)
        body["count"] = count
        path = EVENTS.collection(event.namespace)
        try:
            await self._transport.request("POST", path, body=body)
        except KubernetesError as err:
            if err.status != 409:
                raise
            # Two events for one object in the same nanosecond: make the name unique and retry once.
            body["metadata"]["name"] += uuid.uuid4().hex[:8]
            await self._transport.request("POST", path, body=body)
        return _Recorded(body["metadata"]["name"], count)

    async def _bump(
        self, namespace: str, previous: _Recorded, stamp: str, *, count: int, message: str
    ) -> _Recorded | None:
        count += previous.count
        patch: dict[str, Any] = {"count": count, "lastTimestamp": stamp}
        if message.startswith(COMBINED):
            patch["message"] = message  # a combined event shows the latest of its messages
        try:
            await self._transport.request(
                "PATCH", EVENTS.item(namespace, previous.name), body=patch, content_type=MERGE_PATCH
            )
        except KubernetesError as err:
            if err.status != 404:
                raise
            return None  # the event expired (events live about an hour): start a new one
        return _Recorded(previous.name, count)
