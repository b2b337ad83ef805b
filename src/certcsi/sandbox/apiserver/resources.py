"""The resource types the sandbox serves: group, version, names, scope, verbs and subresources.

Built-in types are data here. Types a CustomResourceDefinition defines are made by customresources.py
and carry their CRD's schema and printer columns in `custom`; the cert-manager types are CRDs every
sandbox store installs, so they are named here too (without `custom`), and BY_KEY reaches them
without a store. A store's Catalog holds the full entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OBJECT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class CustomInfo:
    """What a CRD says about one served version: its structural schema and printer columns."""

    crd_name: str
    schema: Any  # crdschema.StructuralSchema (typed loosely: resources sits below that module)
    columns: tuple[dict[str, Any], ...] = ()
    storage_version: str = ""
    served_versions: tuple[str, ...] = ()


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
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = OBJECT_VERBS
    # The OpenAPI definition of a built-in type (empty for custom resources).
    definition: str = ""
    crd: bool = False  # served from a CustomResourceDefinition
    # A DELETE that removes the object answers with it, not with a Status (ReturnDeletedObject).
    returns_deleted: bool = False
    custom: CustomInfo | None = field(default=None, compare=False, hash=False, repr=False)

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

    @property
    def stored(self) -> bool:
        """False for virtual types that only take a create (access reviews, SelfSubjectReview)."""
        return "get" in self.verbs

    def qualified(self) -> str:
        """How kube-apiserver names the type in messages: `pods`, `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _core(plural: str, kind: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, definition=f"io.k8s.api.core.v1.{kind}", **kw)


def _typed(group: str, package: str, plural: str, kind: str, namespaced: bool, **kw: Any) -> ResourceType:
    return ResourceType(group, "v1", plural, kind, namespaced, definition=f"io.k8s.api.{package}.v1.{kind}", **kw)


RBAC = "rbac.authorization.k8s.io"
CERT_MANAGER = "cert-manager.io"
APPS = "apps"
APIEXTENSIONS = "apiextensions.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
_STATUS = frozenset({"status"})

BUILTIN: tuple[ResourceType, ...] = (
    _core(
        "namespaces", "Namespace", namespaced=False, subresources=frozenset({"status", "finalize"}), short_names=("ns",)
    ),
    _core(
        "pods",
        "Pod",
        subresources=_STATUS,
        returns_deleted=True,
        fields=("spec.nodeName", "spec.serviceAccountName", "status.phase"),
        short_names=("po",),
        categories=("all",),
    ),
    _core(
        "serviceaccounts",
        "ServiceAccount",
        subresources=frozenset({"token"}),
        short_names=("sa",),
        returns_deleted=True,
    ),
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
    _core("services", "Service", subresources=_STATUS, short_names=("svc",), categories=("all",), returns_deleted=True),
    _core("nodes", "Node", namespaced=False, subresources=_STATUS, short_names=("no",)),
    _typed("coordination.k8s.io", "coordination", "leases", "Lease", True),
    _typed("storage.k8s.io", "storage", "csidrivers", "CSIDriver", False),
    _typed(RBAC, "rbac", "roles", "Role", True),
    _typed(RBAC, "rbac", "rolebindings", "RoleBinding", True),
    _typed(RBAC, "rbac", "clusterroles", "ClusterRole", False),
    _typed(RBAC, "rbac", "clusterrolebindings", "ClusterRoleBinding", False),
    _typed(
        APPS, "apps", "daemonsets", "DaemonSet", True, subresources=_STATUS, short_names=("ds",), categories=("all",)
    ),
    _typed(
        APPS,
        "apps",
        "deployments",
        "Deployment",
        True,
        subresources=_STATUS,
        short_names=("deploy",),
        categories=("all",),
    ),
    ResourceType(
        APIEXTENSIONS,
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        subresources=_STATUS,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        definition="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ),
    _typed(
        AUTHORIZATION, "authorization", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=CREATE_ONLY
    ),
    _typed(
        AUTHORIZATION, "authorization", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=CREATE_ONLY
    ),
    _typed(AUTHORIZATION, "authorization", "subjectaccessreviews", "SubjectAccessReview", False, verbs=CREATE_ONLY),
    _typed(
        AUTHORIZATION, "authorization", "localsubjectaccessreviews", "LocalSubjectAccessReview", True, verbs=CREATE_ONLY
    ),
    _typed(AUTHENTICATION, "authentication", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY),
)


CERT_MANAGER_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        CERT_MANAGER,
        "v1",
        "certificaterequests",
        "CertificateRequest",
        True,
        subresources=_STATUS,
        short_names=("cr", "crs"),
        categories=("cert-manager",),
        crd=True,
    ),
    ResourceType(
        CERT_MANAGER, "v1", "issuers", "Issuer", True, subresources=_STATUS, categories=("cert-manager",), crd=True
    ),
    ResourceType(
        CERT_MANAGER,
        "v1",
        "clusterissuers",
        "ClusterIssuer",
        False,
        subresources=_STATUS,
        categories=("cert-manager",),
        crd=True,
    ),
)

RESOURCES: tuple[ResourceType, ...] = (*BUILTIN, *CERT_MANAGER_TYPES)
BY_KEY: dict[str, ResourceType] = {rt.key: rt for rt in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceType] = {(rt.api_version, rt.kind): rt for rt in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rt = BY_KEY.get(f"{group}/{plural}")
    return rt if rt is not None and rt.version == version else None
