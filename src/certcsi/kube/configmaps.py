"""ConfigMaps: watch one by name (the SPIFFE driver's runtime issuer configuration)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from certcsi.kube import watching
from certcsi.kube._resources import CONFIGMAPS
from certcsi.kube._transport import Transport


class ConfigMaps:
    _transport: Transport
    _watch_timeout: Callable[[], int]

    def watch_configmap(self, namespace: str, name: str) -> AsyncIterator[watching.WatchEvent]:
        """The one ConfigMap `namespace/name`, forever (see `certcsi.kube.watching`).

        A list/watch of the namespace's collection narrowed by the field selector
        `metadata.name=<name>`: the API server then authorizes it against that name, so a Role
        with `resourceNames: [<name>]` is enough, and nothing else in the namespace is readable.
        A ConfigMap that does not exist yet is simply absent from the first list (no 404).
        """
        if not name:
            raise ValueError("watch_configmap: name must not be empty (it would watch every ConfigMap)")
        return watching.watch(
            self._transport,
            CONFIGMAPS.collection(namespace),
            field_selector=f"metadata.name={name}",
            timeout_seconds=self._watch_timeout,
        )
