"""URL paths of the Kubernetes REST API to what they address, as kube-apiserver's RequestInfo reads them.

    /api/v1/<plural>[/<name>[/<sub>]]                          cluster-scoped, or a list across namespaces
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]          namespaced
    /apis/<group>/<version>/...                                the same under a named group
    /api/v1/namespaces/<name>/status                           a namespace's own subresource

Anything that is not a served type at one of these shapes resolves to None (404 NotFound).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from certcsi.sandbox.apiserver.resources import ResourceType, lookup

# kube-apiserver reads "namespaces/<name>/<this>" as a subresource of the namespace, not a resource.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class Scope(Enum):
    """What part of a type the path addresses."""

    COLLECTION = "collection"  # in one namespace, or the whole type when cluster-scoped
    ALL_NAMESPACES = "all-namespaces"  # a namespaced type listed across every namespace
    OBJECT = "object"


@dataclass(frozen=True)
class Target:
    """The resolved path: a type, where, which object and which subresource."""

    rt: ResourceType
    scope: Scope
    namespace: str = ""
    name: str = ""
    subresource: str = ""


@dataclass(frozen=True)
class GroupVersion:
    """A discovery path: `/api/v1` or `/apis/<group>/<version>`; version empty for `/apis/<group>`."""

    group: str
    version: str


def _valid_segment(segment: str) -> bool:
    # A path segment name may not be "." or ".." nor contain "/" or "%" (path.IsValidPathSegmentName).
    return segment not in ("", ".", "..") and "%" not in segment


def _resource_path(group: str, version: str, parts: list[str]) -> Target | None:
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, parts = parts[1], parts[2:]
        if not _valid_segment(namespace):
            return None
    if len(parts) > 3 or not all(_valid_segment(p) for p in parts):
        return None
    rt = lookup(group, version, parts[0])
    if rt is None or (namespace and not rt.namespaced):
        return None
    if len(parts) == 1:
        if namespace or not rt.namespaced:
            return Target(rt, Scope.COLLECTION, namespace)
        return Target(rt, Scope.ALL_NAMESPACES)
    if rt.namespaced and not namespace:
        return None
    subresource = parts[2] if len(parts) == 3 else ""
    if subresource and subresource not in rt.subresources:
        return None
    return Target(rt, Scope.OBJECT, namespace, parts[1], subresource)


def resolve(path: str) -> Target | GroupVersion | None:
    """The API object a URL path names, a discovery group/version, or None."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        if len(parts) == 1 or parts[1] != "v1":
            return None
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 2:
        if len(parts) == 2:
            return GroupVersion(parts[1], "")
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return GroupVersion(group, version)
    return _resource_path(group, version, rest)
