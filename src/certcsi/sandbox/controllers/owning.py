"""What the DaemonSet and Deployment controllers share: watch their kind and the pods, reconcile an owner
whenever it or one of its pods changes, create and delete its pods, and write its status."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import quote

from certcsi.kube import Transport
from certcsi.kube._transport import MERGE_PATCH
from certcsi.sandbox.controllers.informing import Informer, Key, WorkQueue, key_of
from certcsi.sandbox.controllers.templating import controller_uid, create_pod, delete_pod

Obj = dict[str, Any]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def label(obj: Obj, name: str) -> str | None:
    value = as_dict(as_dict(obj.get("metadata")).get("labels")).get(name)
    return str(value) if value is not None else None


class PodOwnerController(ABC):
    """One apps/v1 kind (`plural`) whose objects own pods."""

    plural: str

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.queue = WorkQueue(self._reconcile_synced)
        self.owners = Informer(transport, f"/apis/apps/v1/{self.plural}", on_change=self.enqueue)
        self.pods = Informer(transport, "/api/v1/pods", on_change=self._pod_changed)

    def informers(self) -> list[Informer]:
        return [self.owners, self.pods]

    def enqueue(self, owner: Obj) -> None:
        self.queue.add(key_of(owner))

    def _pod_changed(self, pod: Obj) -> None:
        uid = controller_uid(pod)
        for owner in self.owners.values():
            if as_dict(owner.get("metadata")).get("uid") == uid:
                self.enqueue(owner)

    def pods_of(self, owner: Obj) -> list[Obj]:
        uid = as_dict(owner.get("metadata")).get("uid")
        return [pod for pod in self.pods.values() if controller_uid(pod) == uid]

    async def _reconcile_synced(self, key: Key) -> None:
        for informer in self.informers():
            await informer.synced.wait()
        owner = self.owners.objects.get(key)
        if owner is not None and not as_dict(owner.get("metadata")).get("deletionTimestamp"):
            await self.reconcile(owner)

    @abstractmethod
    async def reconcile(self, owner: Obj) -> None:
        """Make the owner's pods what it asks for, and write its status."""

    async def create(self, pod: Obj) -> None:
        self.pods.assume(await create_pod(self._transport, pod))

    async def delete(self, pod: Obj) -> None:
        self.pods.assume(await delete_pod(self._transport, pod), gone=pod)

    async def write_status(self, owner: Obj, status: Obj) -> None:
        meta = as_dict(owner.get("metadata"))
        namespace, name = quote(str(meta.get("namespace")), safe=""), quote(str(meta.get("name")), safe="")
        path = f"/apis/apps/v1/namespaces/{namespace}/{self.plural}/{name}/status"
        await self._transport.request("PATCH", path, body={"status": status}, content_type=MERGE_PATCH)
