"""The discovery documents: `/version`, legacy (`/api`, `/apis`, `/apis/<group>[/<version>]`) and
aggregated (`APIGroupDiscoveryList`, apidiscovery.k8s.io v2 and v2beta1), built from the types a
Catalog serves and rebuilt when a CRD comes or goes.

Standard clients read these to learn which types exist, whether they are namespaced and which verbs
and subresources they take.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from certcsi.sandbox.apiserver.catalog import Catalog
from certcsi.sandbox.apiserver.resources import ResourceType

STATUS_VERBS = ("get", "patch", "update")
AGGREGATED_VERSIONS = ("v2", "v2beta1")
AGGREGATED_GROUP = "apidiscovery.k8s.io"
VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.0+certcsi.sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-04-22T00:00:00Z",
    "goVersion": "go1.25.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _subresource_verbs(rt: ResourceType, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(group, version, kind, verbs) a subresource takes and returns."""
    if sub == "token":
        return "authentication.k8s.io", "v1", "TokenRequest", ("create",)
    if sub == "finalize":
        return rt.group, rt.version, rt.kind, ("update",)
    return rt.group, rt.version, rt.kind, STATUS_VERBS


def _subresource_entry(rt: ResourceType, sub: str) -> dict[str, Any]:
    group, version, kind, verbs = _subresource_verbs(rt, sub)
    entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced}
    if group != rt.group:
        entry.update(group=group, version=version)
    entry.update(kind=kind, verbs=list(verbs))
    return entry


def _names(rt: ResourceType) -> dict[str, list[str]]:
    """The short names and categories of a type, where it has any."""
    names: dict[str, list[str]] = {}
    if rt.short_names:
        names["shortNames"] = list(rt.short_names)
    if rt.categories:
        names["categories"] = list(rt.categories)
    return names


def resource_list(group_version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    """The APIResourceList of one group/version: every type and its subresources."""
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            **_names(rt),
        }
        resources.append(entry)
        resources.extend(_subresource_entry(rt, sub) for sub in sorted(rt.subresources))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
        **_names(rt),
    }
    subresources = []
    for sub in sorted(rt.subresources):
        group, version, kind, verbs = _subresource_verbs(rt, sub)
        subresources.append(
            {
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(verbs),
            }
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


class Discovery:
    """Every discovery answer for one catalog revision, serialised once; lookups return bytes or None."""

    def __init__(self, catalog: Catalog, *, server_address: str = "") -> None:
        self._catalog = catalog
        self._server_address = server_address
        self._revision = -1
        self._documents: dict[str, bytes] = {}
        self._aggregated: dict[tuple[str, str], bytes] = {}

    def _refresh(self) -> None:
        if self._revision == self._catalog.revision:
            return
        self._revision = self._catalog.revision
        by_gv: dict[tuple[str, str], list[ResourceType]] = {}
        for rt in self._catalog.served():
            by_gv.setdefault((rt.group, rt.version), []).append(rt)
        versions_of: dict[str, list[str]] = {}
        for group, version in by_gv:
            if group:
                versions_of.setdefault(group, []).append(version)
        for group, versions in versions_of.items():
            preferred = next(
                (
                    rt.custom.storage_version
                    for rt in self._catalog.served()
                    if rt.group == group and rt.custom is not None
                ),
                versions[0],
            )
            versions.sort(key=lambda v: v != preferred)
        groups = [_group(name, versions) for name, versions in versions_of.items()]
        documents = {
            "/version": _encode(VERSION_INFO),
            "/api": _encode(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self._server_address}],
                }
            ),
            "/apis": _encode({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
        }
        documents.update({f"/apis/{g['name']}": _encode({"kind": "APIGroup", "apiVersion": "v1", **g}) for g in groups})
        for (group, version), types in by_gv.items():
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            documents[path] = _encode(resource_list(f"{group}/{version}" if group else version, types))
        self._documents = documents
        self._aggregated = {}
        for api_version in AGGREGATED_VERSIONS:
            core = [self._aggregated_group("", ["v1"], by_gv)]
            named = [self._aggregated_group(name, versions, by_gv) for name, versions in versions_of.items()]
            self._aggregated[("/api", api_version)] = _encode(self._discovery_list(core, api_version))
            self._aggregated[("/apis", api_version)] = _encode(self._discovery_list(named, api_version))

    @staticmethod
    def _aggregated_group(name: str, versions: list[str], by_gv: dict[tuple[str, str], list[ResourceType]]) -> Any:
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if name:
            metadata = {"name": name, "creationTimestamp": None}
        return {
            "metadata": metadata,
            "versions": [
                {
                    "version": version,
                    "resources": [_aggregated_resource(rt) for rt in by_gv.get((name, version), [])],
                    "freshness": "Current",
                }
                for version in versions
            ],
        }

    @staticmethod
    def _discovery_list(items: list[Any], api_version: str) -> dict[str, Any]:
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": f"{AGGREGATED_GROUP}/{api_version}",
            "metadata": {},
            "items": items,
        }

    def document(self, path: str) -> bytes | None:
        """The legacy discovery document (or /version) at `path`."""
        self._refresh()
        return self._documents.get(path)

    def aggregated(self, path: str, version: str) -> bytes | None:
        """`/api` or `/apis` as an APIGroupDiscoveryList of apidiscovery.k8s.io `version`."""
        self._refresh()
        return self._aggregated.get((path, version))
