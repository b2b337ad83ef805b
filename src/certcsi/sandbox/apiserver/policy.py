"""The RBAC roles kube-apiserver bootstraps at start, those a user meets without asking: cluster-admin
(bound to system:masters), discovery and public info for everyone, and self-reviews (`kubectl auth
can-i`, `kubectl auth whoami`) for every authenticated user."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.identity import AUTHENTICATED, UNAUTHENTICATED
from certcsi.sandbox.apiserver.resources import BY_KEY, RBAC
from certcsi.sandbox.apiserver.storage import Store

_META = {
    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
}
_PUBLIC_PATHS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_DISCOVERY_PATHS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *_PUBLIC_PATHS]

CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "system:discovery": [{"nonResourceURLs": _DISCOVERY_PATHS, "verbs": ["get"]}],
    "system:public-info-viewer": [{"nonResourceURLs": _PUBLIC_PATHS, "verbs": ["get"]}],
    "system:basic-user": [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        },
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ],
}
BINDINGS: dict[str, list[str]] = {
    "cluster-admin": ["system:masters"],
    "system:discovery": [AUTHENTICATED],
    "system:public-info-viewer": [AUTHENTICATED, UNAUTHENTICATED],
    "system:basic-user": [AUTHENTICATED],
}


def bootstrap(store: Store) -> None:
    """Create the default roles and bindings that are missing (an existing one is left as it is)."""
    roles, bindings = BY_KEY[f"{RBAC}/clusterroles"], BY_KEY[f"{RBAC}/clusterrolebindings"]
    for name, rules in CLUSTER_ROLES.items():
        if store.find(roles, None, name) is None:
            store.create(roles, {"metadata": {"name": name, **_META}, "rules": rules})
    for name, groups in BINDINGS.items():
        if store.find(bindings, None, name) is None:
            subjects = [{"apiGroup": RBAC, "kind": "Group", "name": group} for group in groups]
            binding = {
                "metadata": {"name": name, **_META},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
                "subjects": subjects,
            }
            store.create(bindings, binding)
