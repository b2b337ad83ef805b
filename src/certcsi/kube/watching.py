"""List-then-watch that never gives up: the reflector every long-lived certcsi watch runs on.

    async for event in watch(transport, path, label_selector=...):
        event.type   ADDED | MODIFIED | DELETED | SYNCED
        event.object the object (a plain dict); {} for SYNCED

The first list yields every object as ADDED and then SYNCED ("the consumer's view is complete").
The watch resumes from the last resourceVersion seen (bookmarks included, never yielded). When the
server says that version is gone (410 Expired/Gone, as a status code or an ERROR event) the list is
redone and only the difference is yielded (objects now missing come as DELETED with the identifying
part of the metadata last seen: `IDENTITY`), then SYNCED again. Any other failure is logged and
retried with jittered exponential backoff, forever; once a watch opens again after a failure, SYNCED
is yielded again too (the API server answers again, and nothing since the last version is lost).
The iterator ends only when the consumer stops iterating (cancel / aclose).

Each watch asks the server to end it after `timeout_seconds()` (30-45 s by default, so the stream
is never silent longer than that: see `certcsi.kube._transport.watch_read_limit`), and is then
renewed from the same version: a dead connection is noticed and replaced within a minute.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from certcsi.collector import collector_paused
from certcsi.errors import KubernetesError
from certcsi.kube import _errors
from certcsi.kube._transport import Obj, Query, Transport

log = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED", "SYNCED"]
_Key = tuple[str, str]


class WatchEvent(NamedTuple):
    """One change; a tuple, so `for kind, obj in ...` works."""

    type: EventType
    object: Obj


SYNCED = WatchEvent("SYNCED", {})

# What each watch asks the server for (timeoutSeconds): short enough that a silent stream is a dead
# one within a minute, long enough that renewing it costs nothing (client-go asks for 5-10 min and
# relies on HTTP/2 pings instead, which aiohttp does not speak).
DEFAULT_TIMEOUT_SECONDS = (30, 45)


def timeout_seconds_between(low: int, high: int) -> Callable[[], int]:
    """A random watch timeout in [low, high] seconds per request, so a node's watches renew apart."""
    if not 1 <= low <= high:
        raise ValueError(f"watch timeout: need 1 <= low <= high seconds (got {low}, {high})")
    return lambda: random.randint(low, high)


_DEFAULT_TIMEOUT = timeout_seconds_between(*DEFAULT_TIMEOUT_SECONDS)

# What the reflector keeps of each object's metadata between relists. Not the rest: managedFields,
# annotations (kubectl's last-applied-configuration) and owner references can be kilobytes per
# object, for every pod of the node and every request of its volumes.
IDENTITY = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels")


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number `attempt` (0-based): base·factor^attempt, capped, ±jitter."""

    base: float = 0.5
    factor: float = 2.0
    # A watch is how the node notices that the API server is back: retry often enough to catch up soon.
    cap: float = 10.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        raw = min(self.cap, self.base * self.factor ** min(attempt, 64))
        return raw * (1.0 + self.jitter * (2.0 * rand() - 1.0))


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    return {field: meta[field] for field in IDENTITY if field in meta}


def _key(obj: Obj) -> _Key:
    meta = _meta(obj)
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _is_gone(err: KubernetesError) -> bool:
    return err.status == 410


class _Reflector:
    """The state one watch carries between reconnects: what exists, and the version to resume from."""

    def __init__(self, transport: Transport, path: str, selectors: Query) -> None:
        self.transport = transport
        self.path = path
        self.selectors = selectors
        self.version: str | None = None
        # key -> identity last seen; enough to diff a relist and to describe a vanished object.
        self.known: dict[_Key, dict[str, Any]] = {}

    async def relist(self) -> list[WatchEvent]:
        listing = await self.transport.request("GET", self.path, query=self.selectors)
        with collector_paused():
            return self._fold(listing)

    def _fold(self, listing: Obj) -> list[WatchEvent]:
        """The events that take the consumer from what it knows to `listing`, then SYNCED."""
        items = [item for item in listing.get("items") or [] if isinstance(item, dict)]
        events: list[WatchEvent] = []
        seen: dict[_Key, dict[str, Any]] = {}
        for item in items:
            key = _key(item)
            seen[key] = _identity(_meta(item))
            old = self.known.get(key)
            if old is None:
                events.append(WatchEvent("ADDED", item))
            elif old.get("resourceVersion") != seen[key].get("resourceVersion"):
                events.append(WatchEvent("MODIFIED", item))
        for key, meta in self.known.items():
            if key not in seen:
                events.append(WatchEvent("DELETED", {"metadata": meta}))
        self.known = seen
        self.version = str(_meta(listing).get("resourceVersion") or "") or None
        events.append(SYNCED)
        return events

    def apply(self, raw: Obj) -> WatchEvent | None:
        """Book-keep one watch line; the event to hand on, or None (bookmark). Raises on ERROR."""
        kind = raw.get("type")
        obj = raw.get("object")
        if kind == "ERROR":
            raise _errors.from_status_object(obj)
        if not isinstance(obj, dict):
            return None
        version = _meta(obj).get("resourceVersion")
        if version:
            self.version = str(version)
        if kind == "BOOKMARK":
            return None
        key = _key(obj)
        if kind == "DELETED":
            self.known.pop(key, None)
            return WatchEvent("DELETED", obj)
        if kind in ("ADDED", "MODIFIED"):
            self.known[key] = _identity(_meta(obj))
            return WatchEvent(kind, obj)
        log.warning("ignoring watch event of unknown type", extra={"path": self.path, "type": kind})
        return None


async def watch(
    transport: Transport,
    path: str,
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    timeout_seconds: Callable[[], int] = _DEFAULT_TIMEOUT,
) -> AsyncIterator[WatchEvent]:
    """Watch `path` (a collection path) forever; see the module docstring for the semantics."""
    selectors: list[tuple[str, str]] = []
    if label_selector:
        selectors.append(("labelSelector", label_selector))
    if field_selector:
        selectors.append(("fieldSelector", field_selector))
    state = _Reflector(transport, path, selectors)
    failures = 0
    recovering = False  # a failure since the consumer last got SYNCED
    while True:
        try:
            if state.version is None:
                events = await state.relist()
                # The consumer folds a whole listing (10,000 requests at a restart) into its cache in
                # one go, making objects with no cycles: the collector would rescan them at each pass.
                with collector_paused():
                    for event in events:
                        yield event
                recovering = False
            query = [*selectors, ("resourceVersion", state.version or ""), ("allowWatchBookmarks", "true")]
            received = False
            asked = timeout_seconds()
            opened = time.monotonic()
            async with transport.stream(path, query=query, timeout_seconds=asked) as lines:
                if recovering:
                    recovering = False
                    yield SYNCED
                async for raw in lines:
                    change = state.apply(raw)  # raises on ERROR, which must not count as progress
                    received, failures = True, 0
                    if change is not None:
                        yield change
            # Ended by the server as asked (quiet, from a server that sends no bookmarks): not a failure.
            if received or time.monotonic() - opened >= asked:
                continue
            # A stream closed early without a single line: do not spin on a server that hangs up at once.
            problem: Exception = KubernetesError("watch closed without sending anything", status=None)
        except KubernetesError as err:
            if _is_gone(err):
                log.info("watch expired, relisting", extra={"path": path})
                state.version = None
                continue
            problem = err
        except Exception as err:  # a bug must not silently end a watch the node depends on
            log.exception("unexpected error in watch", extra={"path": path})
            problem = err
        recovering = True
        delay = backoff.delay(failures)
        failures += 1
        log.warning(
            "watch failed, retrying",
            extra={"path": path, "attempt": failures, "delay": round(delay, 3), "error": str(problem)},
        )
        await sleep(delay)
