"""What an approver does with CertificateRequests: watch all of them, re-read one, set a condition.

Only the verbs an approver is granted are used: `list`/`watch` on certificaterequests (a re-read is
a list narrowed to one name by a field selector, so no `get` is needed) and `patch` on
certificaterequests/status. The condition is written as a JSON merge patch of the `status`
subresource (explicit `application/merge-patch+json`) that carries the resourceVersion the
decision was made at: the API server answers 409 Conflict when the request changed since, and the
caller re-reads and re-evaluates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from certcsi.kube import watching
from certcsi.kube._resources import CERTIFICATE_REQUESTS
from certcsi.kube._transport import MERGE_PATCH, Obj, Transport


def _escape_field(value: str) -> str:
    # apimachinery's fields.EscapeValue; object names never need it, but a caller's typo should not
    # turn into a different selector.
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


class Approvals:
    _transport: Transport

    def watch_all_certificate_requests(self) -> AsyncIterator[watching.WatchEvent]:
        """Every CertificateRequest in every namespace, forever (see `certcsi.kube.watching`)."""
        return watching.watch(self._transport, CERTIFICATE_REQUESTS.collection())

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
    ) -> Obj:
        """Add `condition` to the request's status, as of `resource_version` (409 when stale).

        A merge patch replaces a list whole, so `existing` must be the request's conditions at
        `resource_version`; any of the same type is replaced, the others are kept. Returns the
        stored request.
        """
        kind = condition.get("type")
        conditions = [dict(c) for c in existing if c.get("type") != kind]
        conditions.append(dict(condition))
        patch = {"metadata": {"resourceVersion": resource_version}, "status": {"conditions": conditions}}
        path = f"{CERTIFICATE_REQUESTS.item(namespace, name)}/status"
        return await self._transport.request("PATCH", path, body=patch, content_type=MERGE_PATCH)
