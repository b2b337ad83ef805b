"""The CertificateRequest CRD's OpenAPI schema, applied the way kube-apiserver applies a structural schema.

kube-apiserver does three things with a CRD schema, in this order: it prunes fields the schema does not
know (and nulls of non-nullable fields), fills in `default`s, and validates. `jsonschema` does the
validation; the Kubernetes extensions it does not know (`x-kubernetes-list-type`, `format: byte`,
`format: date-time`) are added here. Problems come back as `Cause`s with Kubernetes' field paths,
reasons and message shapes (`spec.usages[0]: Unsupported value: "x": supported values: ...`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.resources
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
import yaml

from certcsi.sandbox.apiserver.storage import copy_obj

Obj = dict[str, Any]

_CRD_RESOURCE = "data/certificaterequests.crd.yaml"

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class Cause:
    """One `metav1.StatusCause`: a reason such as FieldValueInvalid, a field path and a message."""

    reason: str
    field: str
    message: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.reason, self.field, self.message)


def crd_text() -> str:
    """The packaged CRD, byte for byte as shipped (upstream's file)."""
    return importlib.resources.files("certcsi.sandbox").joinpath(_CRD_RESOURCE).read_text(encoding="utf-8")


@functools.cache
def openapi_schema(version: str = "v1") -> Obj:
    """The `openAPIV3Schema` of one served version of the CertificateRequest CRD."""
    documents = [doc for doc in yaml.safe_load_all(crd_text()) if doc]
    for doc in documents:
        for served in doc["spec"]["versions"]:
            if served["name"] == version:
                schema: Obj = served["schema"]["openAPIV3Schema"]
                return schema
    raise LookupError(f"the CertificateRequest CRD has no version {version!r}")


def go_value(value: Any) -> str:
    """A value as it appears after `Invalid value:` in a Kubernetes message (JSON, long strings cut)."""
    if isinstance(value, str) and len(value) > 64:
        value = value[:61] + "..."
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def field_path(parts: Sequence[str | int]) -> str:
    """`("spec", "usages", 0)` → `spec.usages[0]`, as `field.Path` renders it."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _is_byte(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        # Go's base64.StdEncoding ignores line breaks and insists on padding, as validate=True does.
        base64.b64decode(instance.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    try:
        datetime.fromisoformat(instance.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("byte")(_is_byte)
    checker.checks("date-time")(_is_date_time)
    return checker


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class StructuralSchema:
    """Prune, default and validate objects against one CRD version's schema (compiled once)."""

    def __init__(self, schema: Obj) -> None:
        self.schema = schema
        properties = dict(schema.get("properties") or {})
        properties.pop("metadata", None)  # metadata is ObjectMeta's business, not the schema's
        self._root = {**schema, "properties": properties}
        self._validator = jsonschema.Draft4Validator(self._root, format_checker=_format_checker())

    # -- pruning and defaulting -------------------------------------------------------------------

    def prune_and_default(self, obj: Obj) -> None:
        """Drop unknown fields and non-nullable nulls, then fill defaults; in place, metadata untouched."""
        for key in list(obj):
            if key == "metadata":
                continue
            sub = self._root["properties"].get(key)
            if sub is None:
                del obj[key]
            else:
                obj[key] = self._prune(obj[key], sub)
                if obj[key] is None:
                    del obj[key]

    def _prune(self, value: Any, schema: Obj) -> Any:
        if isinstance(value, dict):
            self._prune_object(value, schema)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            items = schema["items"]
            for i, item in enumerate(value):
                value[i] = self._prune(item, items)
        return value

    def _prune_object(self, value: Obj, schema: Obj) -> None:
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        properties: Obj | None = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key in list(value):
            if properties is not None and key in properties:
                sub: Obj | None = properties[key]
            elif isinstance(additional, dict):
                sub = additional
            else:
                sub = None
            if sub is None:
                if not preserve:
                    del value[key]
                continue
            if value[key] is None and not sub.get("nullable"):
                if "default" in sub:
                    value[key] = copy_obj(sub["default"])
                else:
                    del value[key]
                continue
            value[key] = self._prune(value[key], sub)
        for key, sub in (properties or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy_obj(sub["default"])

    # -- validation -------------------------------------------------------------------------------

    def validate(self, obj: Obj) -> list[Cause]:
        """Every schema violation of `obj` (metadata excluded), in Kubernetes' terms; [] when valid."""
        causes: list[Cause] = []
        seen: set[Cause] = set()
        for error in self._validator.iter_errors(obj):
            for cause in _causes_of(error):
                if cause not in seen:
                    seen.add(cause)
                    causes.append(cause)
        for cause in _list_type_violations(obj, self._root, []):
            if cause not in seen:
                seen.add(cause)
                causes.append(cause)
        return causes


def _causes_of(error: jsonschema.ValidationError) -> Iterator[Cause]:
    parts = list(error.absolute_path)
    path = field_path(parts)
    keyword = error.validator
    if keyword == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        instance = error.instance if isinstance(error.instance, dict) else {}
        for name in required:
            if name not in instance:
                yield Cause("FieldValueRequired", field_path([*parts, name]), "Required value")
    elif keyword == "type":
        actual = _json_type(error.instance)
        yield Cause(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "{actual}": {path} in body must be of type {error.validator_value}: "{actual}"',
        )
    elif keyword == "enum":
        allowed: list[Any] = list(error.validator_value) if isinstance(error.validator_value, list) else []
        supported = ", ".join(go_value(v) for v in allowed)
        yield Cause(
            "FieldValueNotSupported",
            path,
            f"Unsupported value: {go_value(error.instance)}: supported values: {supported}",
        )
    elif keyword == "format":
        yield Cause(
            "FieldValueInvalid",
            path,
            f"Invalid value: {go_value(error.instance)}: {path} in body must be of type "
            f"{error.validator_value}: {go_value(error.instance)}",
        )
    else:
        yield Cause("FieldValueInvalid", path, f"Invalid value: {go_value(error.instance)}: {error.message}")


def _list_type_violations(value: Any, schema: Obj, parts: list[str | int]) -> Iterator[Cause]:
    """Duplicates in `x-kubernetes-list-type: map` (by the map keys) and `set` lists, which JSON Schema cannot see."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key in value and isinstance(sub, dict):
                yield from _list_type_violations(value[key], sub, [*parts, key])
        return
    if not isinstance(value, list):
        return
    items = schema.get("items")
    list_type = schema.get("x-kubernetes-list-type")
    keys: list[str] = list(schema.get("x-kubernetes-list-map-keys") or [])
    seen: set[str] = set()
    for i, item in enumerate(value):
        if list_type == "map" and isinstance(item, dict):
            identity: Any = {k: item.get(k) for k in keys}
        elif list_type == "set":
            identity = item
        else:
            identity = None
        if identity is not None:
            rendered = json.dumps(identity, sort_keys=True, separators=(",", ":"))
            if rendered in seen:
                yield Cause("FieldValueDuplicate", field_path([*parts, i]), f"Duplicate value: {rendered}")
            seen.add(rendered)
        if isinstance(items, dict):
            yield from _list_type_violations(item, items, [*parts, i])


@functools.cache
def certificate_request_schema() -> StructuralSchema:
    """The compiled schema of cert-manager.io/v1 CertificateRequest."""
    return StructuralSchema(openapi_schema("v1"))
