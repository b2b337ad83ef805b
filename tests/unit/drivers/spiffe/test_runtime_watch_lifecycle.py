"""watch_runtime_issuer: watches the one named ConfigMap, reports the first sync, and ends on stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from spiffe_support import FLAG_ISSUER

from certcsi.drivers.spiffe import RuntimeIssuer
from certcsi.drivers.spiffe.runtime import watch_runtime_issuer
from certcsi.kube import Kube
from certcsi.kube._transport import Obj, Query
from certcsi.kube.watching import SYNCED, WatchEvent
from certcsi.volumes.driver import IssuerRef

DATA = {"issuer-name": "runtime-ca", "issuer-kind": "ClusterIssuer", "issuer-group": "cert-manager.io"}


class ScriptedWatch:
    """A `watch_configmap` that yields the events put on `queue`, and records how it was called and closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.calls: list[tuple[str, str]] = []
        self.closed = asyncio.Event()

    def watch_configmap(self, namespace: str, name: str) -> AsyncIterator[WatchEvent]:
        self.calls.append((namespace, name))
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.closed.set()


async def test_follows_the_configmap_until_stopped() -> None:
    kube = ScriptedWatch()
    issuer = RuntimeIssuer(FLAG_ISSUER)
    stop, synced = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        watch_runtime_issuer(
            kube=kube, issuer=issuer, namespace="cert-manager", name="spiffe-issuer", stop=stop, synced=synced
        )
    )
    await kube.queue.put(WatchEvent("ADDED", {"metadata": {"name": "spiffe-issuer"}, "data": DATA}))
    await kube.queue.put(SYNCED)
    await asyncio.wait_for(synced.wait(), 1)
    assert kube.calls == [("cert-manager", "spiffe-issuer")]
    assert issuer.current() == IssuerRef(name="runtime-ca", kind="ClusterIssuer", group="cert-manager.io")

    await kube.queue.put(WatchEvent("DELETED", {"metadata": {"name": "spiffe-issuer"}}))
    await asyncio.sleep(0.01)
    assert issuer.current() == FLAG_ISSUER

    stop.set()
    await asyncio.wait_for(task, 1)
    assert kube.closed.is_set()


class RecordingTransport:
    """Answers the list with nothing and keeps the watch open, recording both requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Query]] = []
        self.watching = asyncio.Event()

    async def request(self, method: str, path: str, *, query: Query = (), **_: Any) -> Obj:
        self.requests.append((method, path, query))
        return {"items": [], "metadata": {"resourceVersion": "7"}}

    def stream(self, path: str, *, query: Query, timeout_seconds: int) -> Any:
        self.requests.append(("WATCH", path, query))
        transport = self

        class _Stream:
            async def __aenter__(self) -> AsyncIterator[Obj]:
                transport.watching.set()
                return self._lines()

            async def __aexit__(self, *exc: object) -> None:
                return None

            async def _lines(self) -> AsyncIterator[Obj]:
                await asyncio.Event().wait()
                yield {}

        return _Stream()


async def test_the_watch_is_narrowed_to_the_name_by_a_field_selector() -> None:
    transport = RecordingTransport()
    kube = Kube(transport)
    issuer = RuntimeIssuer(None, configmap=("cert-manager", "spiffe-issuer"))
    stop, synced = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        watch_runtime_issuer(
            kube=kube, issuer=issuer, namespace="cert-manager", name="spiffe-issuer", stop=stop, synced=synced
        )
    )
    await asyncio.wait_for(transport.watching.wait(), 1)
    assert synced.is_set() and issuer.current() is None
    stop.set()
    await asyncio.wait_for(task, 1)
    (list_method, list_path, list_query), (watch_method, watch_path, watch_query) = transport.requests
    assert (list_method, list_path) == ("GET", "/api/v1/namespaces/cert-manager/configmaps")
    assert (watch_method, watch_path) == ("WATCH", "/api/v1/namespaces/cert-manager/configmaps")
    assert ("fieldSelector", "metadata.name=spiffe-issuer") in list_query
    assert ("fieldSelector", "metadata.name=spiffe-issuer") in watch_query
    assert ("resourceVersion", "7") in watch_query
