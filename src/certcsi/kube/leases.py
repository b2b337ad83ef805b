"""coordination.k8s.io/v1 Leases: read, create and update one, with optimistic concurrency.

The body of `update_lease` carries the `metadata.resourceVersion` it was read at; the API server
answers 409 Conflict (a `KubernetesError` with status 409) when the Lease changed since, and
`create_lease` answers 409 AlreadyExists when another candidate created it first. Leader election
treats both as "someone else moved first".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certcsi.kube._resources import LEASES
from certcsi.kube._transport import Obj, Transport, get_or_none


class Leases:
    _transport: Transport

    async def get_lease(self, namespace: str, name: str) -> Obj | None:
        """The Lease, or None when it does not exist."""
        return await get_or_none(self._transport, LEASES.item(namespace, name))

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        """Create and return the stored Lease (409 when one of that name exists)."""
        return await self._transport.request("POST", LEASES.collection(namespace), body=body)

    async def update_lease(self, namespace: str, name: str, body: Mapping[str, Any]) -> Obj:
        """Replace the Lease (PUT); `body.metadata.resourceVersion` is the precondition (409 if stale)."""
        return await self._transport.request("PUT", LEASES.item(namespace, name), body=body)
