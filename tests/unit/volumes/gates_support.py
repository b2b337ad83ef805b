"""Shared pieces of the readiness-gate tests: pods as the API server sends them, and a fake pod API."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube.watching import WatchEvent

NODE = "node-1"
UID = "6f1c0f6e-0000-4000-8000-000000000001"


def pod(
    *,
    name: str = "app-0",
    namespace: str = "team",
    uid: str = UID,
    ips: tuple[str, ...] = (),
    conditions: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Pod object with the fields the gates read (and some they must ignore)."""
    status: dict[str, Any] = {
        "phase": "Pending",
        "hostIP": "10.0.0.10",
        "conditions": [{"type": t, "status": s} for t, s in (conditions or {}).items()],
    }
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": "1",
            "labels": {"app": name},
            "annotations": dict(annotations or {}),
        },
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "busybox"}]},
        "status": status,
    }


class FakePods:
    """The pod half of `Kube`: `pods` answers GETs, `events` feeds the one watch."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.selectors: list[str] = []
        self.gets: list[tuple[str, str]] = []
        self.get_error: KubernetesError | None = None

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.gets.append((namespace, name))
        if self.get_error is not None:
            raise self.get_error
        found = self.pods.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def watch_pods(self, field_selector: str) -> AsyncIterator[WatchEvent]:
        self.selectors.append(field_selector)
        while True:
            yield await self.events.get()

    def put(self, obj: dict[str, Any], kind: str = "MODIFIED") -> None:
        """The pod changes on the API server: GETs see it and the watch delivers it."""
        meta = obj["metadata"]
        if kind == "DELETED":
            self.pods.pop((meta["namespace"], meta["name"]), None)
        else:
            self.pods[(meta["namespace"], meta["name"])] = obj
        self.events.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))  # type: ignore[arg-type]

    def synced(self) -> None:
        self.events.put_nowait(WatchEvent("SYNCED", {}))


async def settle() -> None:
    """Let every ready task run (the watch consumer, woken waiters)."""
    for _ in range(20):
        await asyncio.sleep(0)
