"""URL paths to targets, as kube-apiserver's RequestInfo reads them."""

from __future__ import annotations

import pytest

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.routing import GroupVersion, Scope, Target, resolve

PODS, NAMESPACES = BY_KEY["/pods"], BY_KEY["/namespaces"]
CRS = BY_KEY["cert-manager.io/certificaterequests"]
CLUSTER_ISSUERS = BY_KEY["cert-manager.io/clusterissuers"]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/api/v1/pods", Target(PODS, Scope.ALL_NAMESPACES)),
        ("/api/v1/namespaces/ns/pods", Target(PODS, Scope.COLLECTION, "ns")),
        ("/api/v1/namespaces/ns/pods/p", Target(PODS, Scope.OBJECT, "ns", "p")),
        ("/api/v1/namespaces/ns/pods/p/status", Target(PODS, Scope.OBJECT, "ns", "p", "status")),
        ("/api/v1/namespaces", Target(NAMESPACES, Scope.COLLECTION)),
        ("/api/v1/namespaces/ns", Target(NAMESPACES, Scope.OBJECT, "", "ns")),
        ("/api/v1/namespaces/ns/status", Target(NAMESPACES, Scope.OBJECT, "", "ns", "status")),
        ("/api/v1/namespaces/ns/finalize", Target(NAMESPACES, Scope.OBJECT, "", "ns", "finalize")),
        (
            "/apis/cert-manager.io/v1/namespaces/ns/certificaterequests/cr/status",
            Target(CRS, Scope.OBJECT, "ns", "cr", "status"),
        ),
        ("/apis/cert-manager.io/v1/certificaterequests", Target(CRS, Scope.ALL_NAMESPACES)),
        ("/apis/cert-manager.io/v1/clusterissuers/ca", Target(CLUSTER_ISSUERS, Scope.OBJECT, "", "ca")),
        (
            "/api/v1/namespaces/ns/serviceaccounts/sa/token",
            Target(BY_KEY["/serviceaccounts"], Scope.OBJECT, "ns", "sa", "token"),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:x",
            Target(BY_KEY["rbac.authorization.k8s.io/clusterroles"], Scope.OBJECT, "", "system:controller:x"),
        ),
    ],
)
def test_resource_paths(path: str, target: Target) -> None:
    assert resolve(path) == target


@pytest.mark.parametrize(
    ("path", "group_version"),
    [
        ("/api/v1", GroupVersion("", "v1")),
        ("/apis/cert-manager.io/v1", GroupVersion("cert-manager.io", "v1")),
        ("/apis/x.io", GroupVersion("x.io", "")),
    ],
)
def test_discovery_paths(path: str, group_version: GroupVersion) -> None:
    assert resolve(path) == group_version


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api",
        "/api/v2/pods",
        "/api/v1/widgets",
        "/api/v1/pods/p",  # a namespaced object needs its namespace
        "/api/v1/namespaces/ns/namespaces",  # cluster-scoped type under a namespace
        "/api/v1/namespaces/ns/bind",  # a namespace subresource the sandbox does not serve
        "/api/v1/namespaces/ns/pods/p/exec",
        "/api/v1/namespaces/ns/configmaps/c/status",  # no status subresource on configmaps
        "/api/v1/namespaces/ns/pods/p/status/extra",
        "/api/v1/namespaces/ns/pods/p/../q",
        "/api/v1/namespaces//pods",
        "/apis/cert-manager.io/v2/certificaterequests",
        "/apis/cert-manager.io/v1/namespaces/ns/clusterissuers",
    ],
)
def test_unserved_paths_resolve_to_none(path: str) -> None:
    assert resolve(path) is None
