"""REST paths of the resource types certcsi uses (one line each to add configmaps, leases...)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    def _prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection(self, namespace: str | None = None) -> str:
        """The list / create / watch path; `namespace=None` means across all namespaces."""
        if namespace is None:
            return f"{self._prefix()}/{self.plural}"
        return f"{self._prefix()}/namespaces/{quote(namespace, safe='')}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{quote(name, safe='')}"


CERTIFICATE_REQUESTS = Resource("cert-manager.io", "v1", "certificaterequests")
PODS = Resource("", "v1", "pods")
EVENTS = Resource("", "v1", "events")
CONFIGMAPS = Resource("", "v1", "configmaps")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
