"""Pods: read one, and watch those on this node (readiness gates)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from certcsi.kube import watching
from certcsi.kube._resources import PODS
from certcsi.kube._transport import Obj, Transport, get_or_none


class Pods:
    _transport: Transport
    _watch_timeout: Callable[[], int]

    async def get_pod(self, namespace: str, name: str) -> Obj | None:
        """The pod, or None when it does not exist."""
        return await get_or_none(self._transport, PODS.item(namespace, name))

    def watch_pods(self, field_selector: str) -> AsyncIterator[watching.WatchEvent]:
        """Pods in every namespace matching `field_selector` (e.g. `spec.nodeName=<node>`), forever."""
        return watching.watch(
            self._transport, PODS.collection(), field_selector=field_selector, timeout_seconds=self._watch_timeout
        )
