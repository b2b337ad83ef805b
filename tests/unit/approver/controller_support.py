"""An in-memory stand-in for the approver's Kubernetes calls, and a running-approver fixture helper."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from approver_support import NS, POD, make_request
from leader_support import FakeLeases, settle

from certcsi.approver.controller import Approver, ControllerOptions
from certcsi.approver.evaluator import Policy
from certcsi.errors import KubernetesError
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.kube.watching import WatchEvent
from certcsi.volumes.clock import FakeClock

Obj = dict[str, Any]
# Called with (namespace, name) before a write is applied; may raise or wait to simulate the API.
WriteHook = Callable[[str, str], Awaitable[None]]


class FakeApprovalApi(FakeLeases):
    """CertificateRequests, Pods and Events in memory, with resourceVersion checks like kube-apiserver."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[tuple[str, str], Obj] = {}
        self.pods: dict[tuple[str, str], Obj] = {}
        self.pod_failures = 0  # the next N get_pod calls fail
        self.events: list[tuple[str, str, str, str]] = []  # (name, type, reason, message)
        self.writes_attempted: list[tuple[str, str]] = []
        self.before_write: WriteHook | None = None
        self._watchers: list[asyncio.Queue[WatchEvent]] = []
        self._rv = 0

    # -- test-side helpers ---------------------------------------------------------------------------

    def put(self, obj: Obj) -> Obj:
        """Create or replace a request (a new resourceVersion) and tell the watchers."""
        meta = obj.setdefault("metadata", {})
        key = (meta.setdefault("namespace", NS), meta["name"])
        kind = "MODIFIED" if key in self.requests else "ADDED"
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta.setdefault("creationTimestamp", "1970-01-01T00:00:00Z")
        self.requests[key] = copy.deepcopy(obj)
        for queue in self._watchers:
            queue.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))  # type: ignore[arg-type]
        return obj

    def request(self, name: str, *, namespace: str = NS) -> Obj:
        return self.requests[(namespace, name)]

    def condition(self, name: str) -> Mapping[str, Any] | None:
        conditions = (self.request(name).get("status") or {}).get("conditions") or []
        decided = [c for c in conditions if c["type"] in ("Approved", "Denied")]
        return decided[0] if decided else None

    def add_pod(self, name: str = POD, *, account: str, uid: str | None = None) -> None:
        self.pods[(NS, name)] = {
            "metadata": {"name": name, "namespace": NS, "uid": uid or f"uid-{name}"},
            "spec": {"serviceAccountName": account},
        }

    # -- the ApprovalApi -------------------------------------------------------------------------------

    async def watch_all_certificate_requests(self) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        for obj in list(self.requests.values()):
            queue.put_nowait(WatchEvent("ADDED", copy.deepcopy(obj)))
        queue.put_nowait(WatchEvent("SYNCED", {}))
        self._watchers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.remove(queue)

    async def read_certificate_request(self, namespace: str, name: str) -> Obj | None:
        found = self.requests.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def set_condition(
        self,
        namespace: str,
        name: str,
        condition: Mapping[str, Any],
        resource_version: str,
        *,
        existing: Sequence[Mapping[str, Any]] = (),
        current: Mapping[str, Any] | None = None,
    ) -> Obj:
        self.writes_attempted.append((namespace, name))
        if self.before_write is not None:
            await self.before_write(namespace, name)
        current = self.requests.get((namespace, name))
        if current is None:
            raise KubernetesError("not found", status=404)
        if current["metadata"]["resourceVersion"] != resource_version:
            raise KubernetesError("the object has been modified", status=409)
        if any(c["type"] in ("Approved", "Denied") for c in (current.get("status") or {}).get("conditions") or []):
            raise KubernetesError("'Approved' condition may not be modified once set", status=422)
        updated = copy.deepcopy(current)
        updated["status"] = {"conditions": [*map(dict, existing), dict(condition)]}
        return copy.deepcopy(self.put(updated))

    async def get_pod(self, namespace: str, name: str) -> Obj | None:
        if self.pod_failures > 0:
            self.pod_failures -= 1
            raise KubernetesError("cannot reach the Kubernetes API", status=None)
        found = self.pods.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str
    ) -> None:
        self.events.append((involved["name"], type, reason, message))


def named(name: str, **spec: Any) -> Obj:
    request = make_request(**spec)
    request["metadata"]["name"] = name
    return request


@contextlib.asynccontextmanager
async def running(
    api: FakeApprovalApi, policy: Policy, *, clock: FakeClock | None = None, **options: Any
) -> AsyncIterator[Approver]:
    """An Approver running on `api` until the block ends (a clean stop)."""
    approver = Approver(api=api, policy=policy, options=ControllerOptions(**options), clock=clock or FakeClock())
    stop = asyncio.Event()
    task = asyncio.create_task(approver.run(stop))
    await settle()
    try:
        yield approver
    finally:
        stop.set()
        await task


async def until(condition: Callable[[], bool], *, rounds: int = 200) -> None:
    """Let the loop run until `condition()` holds (no fake time passes)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met")
