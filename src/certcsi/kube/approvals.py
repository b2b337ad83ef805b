"""What an approver does with CertificateRequests: watch all of them, re-read one, set a condition.

Only the verbs upstream's approver ClusterRole grants are used: `list`/`watch` on
certificaterequests (a re-read is a list narrowed to one name by a field selector, so no `get` is
needed) and `update` on certificaterequests/status. The condition is written by an update (PUT) of
the `status` subresource carrying the resourceVersion the decision was made at: the API server
answers 409 Conflict when the request changed since, and the caller re-reads and re-evaluates.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from certcsi.kube import watching
from certcsi.kube._resources import CERTIFICATE_REQUESTS
from certcsi.kube._transport import Obj, Transport


def _escape_field(value: str) -> str:
    # apimachinery's fields.EscapeValue; object names never need it, but a caller's typo should not
    # turn into a different selector.
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


class Approvals:
    _transport: Transport
    _watch_timeout: Callable[[], int]

    def watch_all_certificate_requests(self) -> AsyncIterator[watching.WatchEvent]:
        """Every CertificateRequest in every namespace, forever (see `certcsi.kube.watching`)."""
        return watching.watch(self._transport, CERTIFICATE_REQUESTS.collection(), timeout_seconds=self._watch_timeout)

    async def read_certificate_request(self, namespace: str, name: str) -> Obj | None:
        """The request as stored now, or None when it is gone (needs only `list`, not `get`)."""
        listing = await self._transport.request(
            "GET",
            CERTIFICATE_REQUESTS.collection(namespace),
            query=[("fieldSelector", f"metadata.name={_escape_field(name)}")],
        )
        for item in listing.get("items") or []:
            if isinstance(item, dict) and (item.get("metadata") or {}).get("name") == name:
                return item
        return None

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
        """Add `condition` to the request's status, as of `resource_version` (409 when stale).

        An update replaces the status whole: `current` is the request as read at
        `resource_version` (its other status fields are kept) and `existing` its conditions; any of
        the same type is replaced, the others are kept. Returns the stored request.
        """
        kind = condition.get("type")
        conditions = [dict(c) for c in existing if c.get("type") != kind]
        conditions.append(dict(condition))
        body: dict[str, Any] = copy.deepcopy(dict(current)) if current is not None else {}
        body.setdefault("apiVersion", "cert-manager.io/v1")
        body.setdefault("kind", "CertificateRequest")
        metadata = body.get("metadata")
        body["metadata"] = {
            **(metadata if isinstance(metadata, dict) else {}),
            "name": name,
            "namespace": namespace,
            "resourceVersion": resource_version,
        }
        status = body.get("status")
        body["status"] = {**(status if isinstance(status, dict) else {}), "conditions": conditions}
        path = f"{CERTIFICATE_REQUESTS.item(namespace, name)}/status"
        return await self._transport.request("PUT", path, body=body)
