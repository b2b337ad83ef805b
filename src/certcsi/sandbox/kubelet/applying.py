"""Creating objects from YAML manifests through the API, finding each kind's REST path by discovery.

This is `kubectl create -f` in small: documents (and `kind: List` items) are created in order;
the REST path comes from the server's discovery documents (`/api/v1`, `/apis/<group>/<version>`),
as client-go's RESTMapper finds it. An object that already exists is left as it is, except a Pod,
which is an error: a test that applies a pod twice has a bug.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import yaml

from certcsi.errors import KubernetesError
from certcsi.kube._transport import Obj, Transport

log = logging.getLogger(__name__)

Manifest = str | Mapping[str, Any] | Iterable[Mapping[str, Any]]


class ManifestError(ValueError):
    """A document is not an object the API server can take (the message names the field)."""


def documents(manifest: Manifest) -> list[Obj]:
    """The objects of a manifest: YAML text (several documents allowed), a dict, or dicts; Lists flattened."""
    if isinstance(manifest, str):
        try:
            raw: list[Any] = list(yaml.safe_load_all(manifest))
        except yaml.YAMLError as exc:
            raise ManifestError(f"manifest: not valid YAML: {exc}") from None
    elif isinstance(manifest, Mapping):
        raw = [manifest]
    else:
        raw = list(manifest)
    objects: list[Obj] = []
    for index, doc in enumerate(raw):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise ManifestError(f"manifest document {index}: must be an object, got {type(doc).__name__}")
        if doc.get("kind") == "List":
            objects.extend(documents(doc.get("items") or []))
            continue
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str) or not doc.get(key):
                raise ManifestError(f"manifest document {index}: {key}: Required value")
        objects.append(copy.deepcopy(dict(doc)))
    return objects


@dataclass(frozen=True)
class RestMapping:
    prefix: str  # /api/v1 or /apis/<group>/<version>
    plural: str
    namespaced: bool

    def collection(self, namespace: str) -> str:
        if self.namespaced:
            return f"{self.prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{self.prefix}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{quote(name, safe='')}"


class RestMapper:
    """apiVersion + kind → REST path, from discovery; one request per group/version, cached."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._cache: dict[str, dict[str, RestMapping]] = {}

    async def mapping(self, api_version: str, kind: str) -> RestMapping:
        kinds = self._cache.get(api_version)
        if kinds is None:
            kinds = self._cache[api_version] = await self._discover(api_version)
        found = kinds.get(kind)
        if found is None:
            raise ManifestError(f'no matches for kind "{kind}" in version "{api_version}"')
        return found

    async def _discover(self, api_version: str) -> dict[str, RestMapping]:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = await self._transport.request("GET", prefix)
        except KubernetesError as err:
            if err.status == 404:
                return {}
            raise
        kinds: dict[str, RestMapping] = {}
        for entry in listing.get("resources") or []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and "/" not in name and isinstance(entry.get("kind"), str):
                kinds[entry["kind"]] = RestMapping(prefix, name, bool(entry.get("namespaced")))
        return kinds


async def create_all(
    transport: Transport,
    mapper: RestMapper,
    objects: Iterable[Obj],
    *,
    prepare: Callable[[Obj], None] = lambda _obj: None,
) -> list[Obj]:
    """Create each object in order (after `prepare(obj)`); returns what the server stored."""
    created: list[Obj] = []
    for obj in objects:
        mapping = await mapper.mapping(obj["apiVersion"], obj["kind"])
        meta = obj.setdefault("metadata", {})
        if mapping.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        prepare(obj)
        namespace = str(meta.get("namespace") or "")
        try:
            created.append(await transport.request("POST", mapping.collection(namespace), body=obj))
        except KubernetesError as err:
            if err.status != 409 or obj["kind"] == "Pod":
                raise
            log.info("already exists, left unchanged kind=%s name=%s", obj["kind"], meta.get("name"))
            created.append(await transport.request("GET", mapping.item(namespace, str(meta.get("name")))))
    return created
