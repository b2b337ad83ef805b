"""URL paths of the Kubernetes REST API to what they address, as kube-apiserver's RequestInfo reads them.

    /api/v1/<plural>[/<name>[/<sub>]]                          cluster-scoped, or a list across namespaces
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]          namespaced
    /apis/<group>/<version>/...                                the same under a named group
    /api/v1/namespaces/<name>/status                           a namespace's own subresource

Anything that is not a served type at one of these shapes resolves to None (404 NotFound).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from certcsi.sandbox.apiserver.rbac import RequestAttributes
from certcsi.sandbox.apiserver.resources import ResourceType, lookup

# (group, version, plural) -> the type served there: a store's Catalog.lookup, or the static table.
Lookup = Callable[[str, str, str], ResourceType | None]

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


def _resource_path(group: str, version: str, parts: list[str], find: Lookup) -> Target | None:
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, parts = parts[1], parts[2:]
        if not _valid_segment(namespace):
            return None
    if len(parts) > 3 or not all(_valid_segment(p) for p in parts):
        return None
    rt = find(group, version, parts[0])
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


def resolve(path: str, find: Lookup = lookup) -> Target | GroupVersion | None:
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
    return _resource_path(group, version, rest, find)


_METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_attributes(path: str, method: str) -> RequestAttributes:
    """What RBAC is asked about a path no served type answers (RequestInfo's reading of it):
    resource attributes for the shape of a resource URL, else the non-resource path and verb."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return RequestAttributes(method.lower(), path=path or "/")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        namespace = rest[1]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    verb = _METHOD_VERBS.get(method, method.lower())
    if not name and verb in ("get", "delete"):
        verb = "list" if verb == "get" else "deletecollection"
    return RequestAttributes(verb, group, rest[0], subresource, namespace, name)
