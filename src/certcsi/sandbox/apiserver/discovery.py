"""The discovery documents (`/version`, `/api`, `/apis`, `/apis/<group>[/<version>]`), built once.

Standard clients read these to learn which types exist, whether they are namespaced and which
verbs and subresources they take; the answers are the legacy (unaggregated) discovery format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from certcsi.sandbox.apiserver.resources import RESOURCES, ResourceType

OBJECT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")
VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0+certcsi.sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _subresource_entry(rt: ResourceType, sub: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced}
    if sub == "token":
        # The token subresource takes and returns an authentication.k8s.io/v1 TokenRequest.
        entry.update(group="authentication.k8s.io", version="v1", kind="TokenRequest", verbs=["create"])
    else:
        entry.update(kind=rt.kind, verbs=list(STATUS_VERBS))
    return entry


def resource_list(group_version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    """The APIResourceList of one group/version: every type and its subresources."""
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(OBJECT_VERBS),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.group == "cert-manager.io":
            entry["categories"] = ["cert-manager"]
        resources.append(entry)
        resources.extend(_subresource_entry(rt, sub) for sub in sorted(rt.subresources))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


class Discovery:
    """Every discovery answer, serialised at construction; lookups return bytes or None."""

    def __init__(self, *, server_address: str = "") -> None:
        by_gv: dict[tuple[str, str], list[ResourceType]] = {}
        for rt in RESOURCES:
            by_gv.setdefault((rt.group, rt.version), []).append(rt)
        self.version = _encode(VERSION_INFO)
        self.api = _encode(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
            }
        )
        versions_of: dict[str, list[str]] = {}
        for group, version in by_gv:
            if group:
                versions_of.setdefault(group, []).append(version)
        groups = [_group(name, versions) for name, versions in versions_of.items()]
        self.apis = _encode({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        self._groups = {g["name"]: _encode({"kind": "APIGroup", "apiVersion": "v1", **g}) for g in groups}
        self._resources = {
            (group, version): _encode(resource_list(f"{group}/{version}" if group else version, types))
            for (group, version), types in by_gv.items()
        }

    def group(self, name: str) -> bytes | None:
        return self._groups.get(name)

    def resources(self, group: str, version: str) -> bytes | None:
        return self._resources.get((group, version))

    def documents(self) -> dict[str, bytes]:
        """Every discovery document by its URL path."""
        paths = {"/version": self.version, "/api": self.api, "/apis": self.apis}
        paths.update({f"/apis/{name}": doc for name, doc in self._groups.items()})
        for (group, version), doc in self._resources.items():
            paths[f"/apis/{group}/{version}" if group else f"/api/{version}"] = doc
        return paths
