"""`Table` and `PartialObjectMetadata` answers: what `kubectl get` prints (the built-in kinds' columns,
a CRD's additionalPrinterColumns) and the metadata-only views clients such as the garbage collector
and `kubectl get -o name` ask for."""

from __future__ import annotations

import json
from typing import Any

from certcsi.sandbox.apiserver import printers
from certcsi.sandbox.apiserver.errors import bad_request
from certcsi.sandbox.apiserver.jsonpath import JsonPathError, find
from certcsi.sandbox.apiserver.objects import Obj, parse_time
from certcsi.sandbox.apiserver.resources import ResourceType

META_GROUP = "meta.k8s.io"
INCLUDE = ("None", "Metadata", "Object")


def include_object(query_value: str | None) -> str:
    """The `includeObject` parameter (Metadata when unset); 400 for another value."""
    if not query_value:
        return "Metadata"
    if query_value not in INCLUDE:
        raise bad_request(
            f'includeObject: Unsupported value: "{query_value}": supported values: "Metadata", "None", "Object"'
        )
    return query_value


def _custom_columns(rt: ResourceType) -> list[dict[str, Any]]:
    return list(rt.custom.columns) if rt.custom is not None else []


def column_definitions(rt: ResourceType) -> list[Obj]:
    if rt.crd and rt.custom is not None:
        out = [printers.NAME.definition()]
        for column in _custom_columns(rt):
            description = column.get("description") or (
                f"Custom resource definition column (in JSONPath format): {column.get('jsonPath', '')}"
            )
            out.append(
                {
                    "name": column.get("name", ""),
                    "type": column.get("type", "string"),
                    "format": column.get("format", ""),
                    "description": description,
                    "priority": int(column.get("priority") or 0),
                }
            )
        return out
    columns, _ = printers.PRINTERS.get(rt.key, printers.DEFAULT_PRINTER)
    return [c.definition() for c in columns]


def _custom_cell(obj: Obj, column: dict[str, Any]) -> Any:
    try:
        results = find(obj, str(column.get("jsonPath", "")))
    except JsonPathError:
        return None
    if not results:
        return None
    value = results[0]
    kind = column.get("type", "string")
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        # The real convertor sends an age (kubectl prints cells as they come), "<invalid>" for a bad time.
        if not isinstance(value, str):
            return None
        return printers.since(value) if parse_time(value) is not None else "<invalid>"
    return None


def cells(rt: ResourceType, obj: Obj) -> list[Any]:
    if rt.crd and rt.custom is not None:
        return [obj.get("metadata", {}).get("name", ""), *(_custom_cell(obj, c) for c in _custom_columns(rt))]
    _, row = printers.PRINTERS.get(rt.key, printers.DEFAULT_PRINTER)
    return row(obj)


def partial_metadata(obj: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": obj.get("metadata", {}),
    }


def row(rt: ResourceType, obj: Obj, *, include: str, version: str = "v1") -> Obj:
    out: Obj = {"cells": cells(rt, obj)}
    if include == "Metadata":
        out["object"] = partial_metadata(obj, version)
    elif include == "Object":
        out["object"] = obj
    return out


def table(rt: ResourceType, items: list[Obj], *, list_meta: Obj, include: str, version: str = "v1") -> Obj:
    return {
        "kind": "Table",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": list_meta,
        "columnDefinitions": column_definitions(rt),
        "rows": [row(rt, obj, include=include, version=version) for obj in items],
    }


def metadata_list(items: list[Obj], *, list_meta: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": list_meta,
        "items": [partial_metadata(obj, version) for obj in items],
    }
