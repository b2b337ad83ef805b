"""The kube-controller-manager loops a cluster's users take for granted: every namespace gets a
`default` ServiceAccount (pods need one) and the `kube-root-ca.crt` ConfigMap (their token volume
mounts it)."""

from __future__ import annotations

import logging

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store

log = logging.getLogger(__name__)

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_NAMESPACES = BY_KEY["/namespaces"]
_SERVICE_ACCOUNTS = BY_KEY["/serviceaccounts"]
_CONFIGMAPS = BY_KEY["/configmaps"]


class NamespaceDefaults:
    """Gives each namespace its defaults as it appears; `run()` until cancelled."""

    def __init__(self, store: Store, *, ca_pem: bytes) -> None:
        self._store = store
        self._ca = ca_pem.decode()

    def sync(self, namespace: str) -> None:
        """Create what `namespace` lacks; a namespace already terminating gets nothing."""
        store = self._store
        try:
            if store.find(_SERVICE_ACCOUNTS, namespace, "default") is None:
                store.create(_SERVICE_ACCOUNTS, {"metadata": {"name": "default"}}, namespace=namespace)
            if store.find(_CONFIGMAPS, namespace, ROOT_CA_CONFIGMAP) is None:
                configmap = {"metadata": {"name": ROOT_CA_CONFIGMAP}, "data": {"ca.crt": self._ca}}
                store.create(_CONFIGMAPS, configmap, namespace=namespace)
        except ApiError as exc:
            log.debug("namespace defaults skipped", extra={"namespace": namespace, "reason": exc.reason})

    async def run(self) -> None:
        for namespace in list(self._store.all_objects(_NAMESPACES)):
            self.sync(namespace["metadata"]["name"])
        async for event in self._store.watch(_NAMESPACES, None, since=self._store.resource_version):
            if event.type == "ADDED":
                self.sync(event.object["metadata"]["name"])
