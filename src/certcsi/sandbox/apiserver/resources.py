"""The resource types the sandbox serves: group, version, names, scope and subresources."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    # Field selectors kube-apiserver supports for this type besides metadata.name / metadata.namespace.
    fields: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The storage key, `<group>/<plural>` (core group is the empty string)."""
        return f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def qualified(self) -> str:
        """How kube-apiserver names the type in messages: `pods`, `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _core(plural: str, kind: str, namespaced: bool = True, **kw: object) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, **kw)  # type: ignore[arg-type]


RBAC = "rbac.authorization.k8s.io"
CERT_MANAGER = "cert-manager.io"

RESOURCES: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", namespaced=False, subresources=frozenset({"status"}), short_names=("ns",)),
    _core(
        "pods",
        "Pod",
        subresources=frozenset({"status"}),
        fields=("spec.nodeName", "spec.serviceAccountName", "status.phase"),
        short_names=("po",),
    ),
    _core("serviceaccounts", "ServiceAccount", subresources=frozenset({"token"}), short_names=("sa",)),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret", fields=("type",)),
    _core(
        "events",
        "Event",
        fields=(
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ),
        short_names=("ev",),
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    ResourceType(RBAC, "v1", "roles", "Role", True),
    ResourceType(RBAC, "v1", "rolebindings", "RoleBinding", True),
    ResourceType(RBAC, "v1", "clusterroles", "ClusterRole", False),
    ResourceType(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType(
        CERT_MANAGER,
        "v1",
        "certificaterequests",
        "CertificateRequest",
        True,
        subresources=frozenset({"status"}),
        short_names=("cr", "crs"),
    ),
    ResourceType(CERT_MANAGER, "v1", "issuers", "Issuer", True, subresources=frozenset({"status"})),
    ResourceType(
        CERT_MANAGER,
        "v1",
        "clusterissuers",
        "ClusterIssuer",
        False,
        subresources=frozenset({"status"}),
    ),
)

BY_KEY: dict[str, ResourceType] = {rt.key: rt for rt in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceType] = {(rt.api_version, rt.kind): rt for rt in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rt = BY_KEY.get(f"{group}/{plural}")
    return rt if rt is not None and rt.version == version else None
