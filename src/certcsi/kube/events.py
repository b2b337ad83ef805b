"""core/v1 Events, aggregated like client-go's recorder: a repeat bumps `count` instead of piling up.

A repeat is the same object, type, reason, message and component. The recorder remembers the
events it wrote (bounded LRU); after a restart it finds an earlier one with a field-selected list.
Messages are scrubbed of anything token-shaped and clipped to what the API accepts.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

from certcsi.errors import KubernetesError
from certcsi.kube import _errors
from certcsi.kube._resources import EVENTS
from certcsi.kube._transport import MERGE_PATCH, Transport

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
class _Recorded:
    name: str
    count: int


_Key = tuple[str, str, str, str, str, str, str, str]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _escape_field(value: str) -> str:
    """A field-selector value, escaped like apimachinery's fields.EscapeValue."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


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
        self._cache: OrderedDict[_Key, _Recorded] = OrderedDict()
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
        namespace = involved.get("namespace") or "default"
        message = _errors.scrub(message)[:MAX_EVENT_MESSAGE]
        key: _Key = (namespace, involved["kind"], involved["name"], involved.get("uid", ""), type, reason, message, component)
        moment = self._now()
        stamp = _rfc3339(moment)
        previous = self._cache.get(key) or await self._find(namespace, involved, type, reason, message, component)
        if previous is not None:
            patched = await self._bump(namespace, previous, stamp)
            if patched is not None:
                self._remember(key, patched)
                return
        body = self._body(moment, namespace, involved, type, reason, message, component, stamp)
        try:
            await self._transport.request("POST", EVENTS.collection(namespace), body=body)
        except KubernetesError as err:
            if err.status != 409:
                raise
            # Two events for one object in the same nanosecond: make the name unique and retry once.
            body["metadata"]["name"] += uuid.uuid4().hex[:8]
            await self._transport.request("POST", EVENTS.collection(namespace), body=body)
        self._remember(key, _Recorded(body["metadata"]["name"], 1))

    def _remember(self, key: _Key, recorded: _Recorded) -> None:
        self._cache[key] = recorded
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

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

    async def _find(
        self, namespace: str, involved: InvolvedObject, type: str, reason: str, message: str, component: str
    ) -> _Recorded | None:
        """An event written before this process started, if the API still has it."""
        uid = involved.get("uid", "")
        fields = [f"involvedObject.uid={_escape_field(uid)}"] if uid else [
            f"involvedObject.kind={_escape_field(involved['kind'])}",
            f"involvedObject.name={_escape_field(involved['name'])}",
        ]
        fields.append(f"reason={_escape_field(reason)}")
        listing = await self._transport.request(
            "GET", EVENTS.collection(namespace), query=[("fieldSelector", ",".join(fields))]
        )
        for item in listing.get("items") or []:
            if (
                isinstance(item, dict)
                and item.get("message") == message
                and item.get("type") == type
                and (item.get("source") or {}).get("component") == component
            ):
                return _Recorded(str(item["metadata"]["name"]), int(item.get("count") or 1))
        return None

    def _body(
        self,
        moment: datetime,
        namespace: str,
        involved: InvolvedObject,
        type: str,
        reason: str,
        message: str,
        component: str,
        stamp: str,
    ) -> dict[str, Any]:
        reference: dict[str, str] = {
            "kind": involved["kind"],
            "namespace": involved.get("namespace", ""),
            "name": involved["name"],
            "uid": involved.get("uid", ""),
        }
        if "apiVersion" in involved:
            reference["apiVersion"] = involved["apiVersion"]
        return {
            "apiVersion": "v1",
            "kind": "Event",
            # client-go names events <object>.<unix nanoseconds, hex>.
            "metadata": {"name": f"{involved['name']}.{int(moment.timestamp() * 1e9):x}", "namespace": namespace},
            "involvedObject": reference,
            "type": type,
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
