"""CertificateRequests (cert-manager.io/v1): create (optionally as the pod), delete, list, watch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from certcsi.kube import watching
from certcsi.kube._resources import CERTIFICATE_REQUESTS
from certcsi.kube._transport import Obj, Transport, delete


class CertificateRequests:
    _transport: Transport
    _watch_timeout: Callable[[], int]

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> Obj:
        """Create and return the stored object.

        With `token`, the call authenticates as that bearer token only (the pod's service account),
        so cert-manager records that identity in spec.username / uid / groups.
        """
        return await self._transport.request("POST", CERTIFICATE_REQUESTS.collection(namespace), body=body, token=token)

    async def delete_certificate_request(self, namespace: str, name: str) -> None:
        """Delete; a request that is already gone counts as deleted."""
        await delete(self._transport, CERTIFICATE_REQUESTS.item(namespace, name))

    async def list_certificate_requests(self, label_selector: str) -> list[Obj]:
        """Every matching request in every namespace."""
        listing = await self._transport.request(
            "GET", CERTIFICATE_REQUESTS.collection(), query=[("labelSelector", label_selector)]
        )
        return [item for item in listing.get("items") or [] if isinstance(item, dict)]

    def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[watching.WatchEvent]:
        """Matching requests in every namespace, forever (see `certcsi.kube.watching`)."""
        return watching.watch(
            self._transport,
            CERTIFICATE_REQUESTS.collection(),
            label_selector=label_selector,
            timeout_seconds=self._watch_timeout,
        )
