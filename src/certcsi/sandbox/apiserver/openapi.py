"""OpenAPI documents as kube-apiserver publishes them, from the built-in types' schemas and the CRDs':
`/openapi/v2` (Swagger 2.0, JSON or protobuf) and `/openapi/v3` (an index, then one OpenAPI 3.0
document per group-version). kubectl reads them to validate (apply, create, diff), to learn that the
server checks fields itself (the `fieldValidation` parameter of each PATCH), and for `kubectl explain`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from certcsi.sandbox.apiserver import openapiproto, schemas
from certcsi.sandbox.apiserver.catalog import Catalog
from certcsi.sandbox.apiserver.discovery import VERSION_INFO
from certcsi.sandbox.apiserver.objects import Obj, copy_obj
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.schemagen import REF_PREFIX

V2_PROTOBUF = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
V3_PREFIX = "/openapi/v3/"
_V2_REF = "#/definitions/"
_META = schemas.META
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_QUERY = {
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
    "dryRun directive will result in an error response and no further processing of the request. Valid values "
    "are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
    "containing unknown or duplicate fields. Valid values are: - Ignore - Warn (default) - Strict",
    "force": 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned '
    "by other people.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served from.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and remove "
    "notifications.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
}


def _patch_types(rt: ResourceType) -> tuple[str, ...]:
    # Custom resources take no strategic merge patch; kubectl reads this to pick its patch type.
    return tuple(t for t in _PATCH_TYPES if not (rt.crd and "strategic" in t))


def definition_name(rt: ResourceType) -> str:
    """The definition a kind is published under: built-ins by package, CRDs by reversed group."""
    if rt.definition:
        return rt.definition
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}


def _custom_schema(rt: ResourceType) -> Obj:
    """A CRD version's schema as published: metadata as ObjectMeta, the kind's group-version-kind."""
    schema: Obj = copy_obj(rt.custom.schema.schema) if rt.custom is not None else {"type": "object"}
    properties: Obj = schema.setdefault("properties", {})
    properties["metadata"] = {"$ref": REF_PREFIX + schemas.OBJECT_META}
    for key in ("apiVersion", "kind"):
        properties.setdefault(key, {"type": "string"})
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _list_schema(rt: ResourceType, item: str) -> Obj:
    return {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"items": {"$ref": REF_PREFIX + item}, "type": "array"},
            "kind": {"type": "string"},
            "metadata": {"$ref": REF_PREFIX + f"{_META}.ListMeta"},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [_gvk(rt, f"{rt.kind}List")],
    }


def _references(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            yield ref.removeprefix(REF_PREFIX)
        for key, value in node.items():
            if key != "$ref":
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _closure(own: Mapping[str, Obj]) -> dict[str, Obj]:
    """`own` plus every built-in definition it reaches."""
    found = dict(own)
    pending = [name for schema in own.values() for name in _references(schema)]
    library = schemas.definitions()
    while pending:
        name = pending.pop()
        if name in found or name not in library:
            continue
        found[name] = library[name]
        pending.extend(_references(library[name]))
    return found


def _path_base(rt: ResourceType) -> str:
    return f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"


def _operation(rt: ResourceType, action: str, method: str, *, kind: str, scoped: str) -> Obj:
    params = {
        "list": ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"),
        "post": ("dryRun", "fieldManager", "fieldValidation"),
        "put": ("dryRun", "fieldManager", "fieldValidation"),
        "patch": ("dryRun", "fieldManager", "fieldValidation", "force"),
        "delete": ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
        "deletecollection": ("dryRun", "labelSelector", "fieldSelector", "gracePeriodSeconds", "propagationPolicy"),
        "get": (),
    }[action]
    group = rt.group.split(".")[0] if rt.group else "core"
    tag = f"{group}_{rt.version}"
    op_id = f"{method}{''.join(p.capitalize() for p in tag.split('_'))}{scoped}{kind}"
    return {
        "tags": [tag],
        "description": f"{action} {kind}",
        "operationId": op_id,
        "parameters": [
            {
                "name": name,
                "in": "query",
                "description": _QUERY[name],
                "type": "boolean" if name in ("force", "watch") else "string",
            }
            for name in params
        ],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }


def _operations(rt: ResourceType) -> dict[str, dict[str, Obj]]:
    """Path → method → (version-neutral) operation, for the collection and the object of `rt`."""
    base = _path_base(rt)
    scoped = "Namespaced" if rt.namespaced else ""
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    paths: dict[str, dict[str, Obj]] = {}
    if not rt.stored:
        paths[collection] = {"post": _operation(rt, "post", "create", kind=rt.kind, scoped=scoped)}
        return paths
    paths[collection] = {
        "get": _operation(rt, "list", "list", kind=rt.kind, scoped=scoped),
        "post": _operation(rt, "post", "create", kind=rt.kind, scoped=scoped),
        "delete": _operation(rt, "deletecollection", "deleteCollection", kind=rt.kind, scoped=scoped),
    }
    paths[f"{collection}/{{name}}"] = {
        "get": _operation(rt, "get", "read", kind=rt.kind, scoped=scoped),
        "put": _operation(rt, "put", "replace", kind=rt.kind, scoped=scoped),
        "patch": _operation(rt, "patch", "patch", kind=rt.kind, scoped=scoped),
        "delete": _operation(rt, "delete", "delete", kind=rt.kind, scoped=scoped),
    }
    if "status" in rt.subresources:
        paths[f"{collection}/{{name}}/status"] = {
            "get": _operation(rt, "get", "read", kind=f"{rt.kind}Status", scoped=scoped),
            "put": _operation(rt, "put", "replace", kind=f"{rt.kind}Status", scoped=scoped),
            "patch": _operation(rt, "patch", "patch", kind=f"{rt.kind}Status", scoped=scoped),
        }
    return paths


def _path_parameters(path: str) -> list[Obj]:
    return [
        {"name": name, "in": "path", "required": True, "description": f"{name} of the resource", "type": "string"}
        for name in ("name", "namespace")
        if "{" + name + "}" in path
    ]


# -- v3 ---------------------------------------------------------------------------------------------------


def _v3_node(node: Any) -> Any:
    """Built-in schema as kube publishes v3: a `$ref` with siblings is wrapped in allOf."""
    if isinstance(node, list):
        return [_v3_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _v3_node(value) for key, value in node.items()}
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def _v3_operation(op: Obj, rt: ResourceType, action: str, path: str) -> Obj:
    ref = {"$ref": REF_PREFIX + definition_name(rt)}
    out = {k: v for k, v in op.items() if k != "parameters"}
    out["parameters"] = [
        {
            "name": p["name"],
            "in": "query",
            "description": p["description"],
            "schema": {"type": p["type"], "uniqueItems": True},
        }
        for p in op["parameters"]
    ]
    if action == "patch":
        out["requestBody"] = {
            "content": {t: {"schema": {"$ref": REF_PREFIX + f"{_META}.Patch"}} for t in _patch_types(rt)},
            "required": True,
        }
    elif action in ("post", "put"):
        out["requestBody"] = {"content": {"*/*": {"schema": ref}}, "required": True}
    answer = ref if action != "list" else {"$ref": REF_PREFIX + definition_name(rt) + "List"}
    if action in ("delete", "deletecollection"):
        answer = {"$ref": REF_PREFIX + f"{_META}.Status"}
    out["responses"] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
        "401": {"description": "Unauthorized"},
    }
    return out


def _own_definitions(rt: ResourceType, *, lists: bool) -> dict[str, Obj]:
    """The definition of `rt` (and of its list, when asked)."""
    name = definition_name(rt)
    own = {name: schemas.definition(name) if rt.definition else _custom_schema(rt)}
    if lists and rt.stored:
        own[name + "List"] = schemas.definitions().get(name + "List") or _list_schema(rt, name)
    return own


def _v3_document(types: list[ResourceType]) -> Obj:
    own: dict[str, Obj] = {}
    paths: dict[str, Obj] = {}
    for rt in types:
        own.update(_own_definitions(rt, lists=True))
        for path, methods in _operations(rt).items():
            item = paths.setdefault(path, {})
            for method, op in methods.items():
                item[method] = _v3_operation(op, rt, str(op["x-kubernetes-action"]), path)
            item["parameters"] = [
                {
                    "name": p["name"],
                    "in": "path",
                    "description": p["description"],
                    "required": True,
                    "schema": {"type": "string", "uniqueItems": True},
                }
                for p in _path_parameters(path)
            ]
    components = {name: _v3_node(schema) for name, schema in sorted(_closure(own).items())}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
    }


# -- v2 ---------------------------------------------------------------------------------------------------


def _v2_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_v2_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace(REF_PREFIX, _V2_REF)
        elif key in ("oneOf", "anyOf", "nullable", "x-kubernetes-validations"):
            continue
        else:
            out[key] = _v2_node(value)
    return out


def _v2_definition(name: str, schema: Obj) -> Obj:
    if name == _INT_OR_STRING:
        return {"description": schema.get("description", ""), "format": "int-or-string", "type": "string"}
    if name == _QUANTITY:
        return {"description": schema.get("description", ""), "type": "string"}
    converted: Obj = _v2_node(schema)
    return converted


def _v2_document(types: list[ResourceType]) -> Obj:
    own: dict[str, Obj] = {}
    paths: dict[str, Obj] = {}
    for rt in types:
        own.update(_own_definitions(rt, lists=False))
        ref = {"$ref": _V2_REF + definition_name(rt)}
        for path, methods in _operations(rt).items():
            item = paths.setdefault(path, {})
            for method, op in methods.items():
                action = op["x-kubernetes-action"]
                body: list[Obj] = []
                if action in ("post", "put", "patch"):
                    schema = {"$ref": _V2_REF + f"{_META}.Patch"} if action == "patch" else ref
                    body = [{"name": "body", "in": "body", "required": True, "schema": schema}]
                item[method] = {
                    **{k: v for k, v in op.items() if k != "parameters"},
                    "consumes": list(_patch_types(rt)) if action == "patch" else ["*/*"],
                    "produces": ["application/json", "application/yaml"],
                    "schemes": ["https"],
                    "parameters": [*body, *op["parameters"]],
                    "responses": {"200": {"description": "OK", "schema": ref}, "401": {"description": "Unauthorized"}},
                }
            item["parameters"] = _path_parameters(path)
    definitions = {name: _v2_definition(name, schema) for name, schema in sorted(_closure(own).items())}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "definitions": definitions,
    }


class OpenApi:
    """Serves the documents of one catalog revision, built on first request and kept until a CRD changes."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._revision = -1
        self._v2_json = b""
        self._v2_proto = b""
        self._v3: dict[str, bytes] = {}
        self._index = b""

    def _refresh(self) -> None:
        if self._revision == self._catalog.revision:
            return
        self._revision = self._catalog.revision
        served = self._catalog.served()
        doc = _v2_document(served)
        self._v2_json = json.dumps(doc, separators=(",", ":")).encode()
        self._v2_proto = openapiproto.document(doc)
        by_gv: dict[str, list[ResourceType]] = {}
        for rt in served:
            by_gv.setdefault(_path_base(rt).lstrip("/"), []).append(rt)
        self._v3 = {gv: json.dumps(_v3_document(types), separators=(",", ":")).encode() for gv, types in by_gv.items()}
        index = {
            gv: {"serverRelativeURL": f"{V3_PREFIX}{gv}?hash={hashlib.sha512(body).hexdigest()[:128].upper()}"}
            for gv, body in sorted(self._v3.items())
        }
        self._index = json.dumps({"paths": index}, separators=(",", ":")).encode()

    def serve(self, path: str, accept: str | None, query: Mapping[str, str]) -> web.StreamResponse:
        self._refresh()
        if path == "/openapi/v2":
            if any(media in (accept or "") for media in V2_PROTOBUF):
                # Go's mime parser refuses the "@" of the Accept form; the answer names the other one.
                return web.Response(body=self._v2_proto, headers={"Content-Type": V2_PROTOBUF[1]})
            return web.Response(body=self._v2_json, headers={"Content-Type": "application/json"})
        if path == "/openapi/v3":
            return web.Response(body=self._index, headers={"Content-Type": "application/json"})
        body = self._v3.get(path.removeprefix(V3_PREFIX)) if path.startswith(V3_PREFIX) else None
        if body is None:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        headers = {"Content-Type": "application/json"}
        if query.get("hash"):
            headers["Cache-Control"] = "public, immutable"
        return web.Response(body=body, headers=headers)
