"""A CRD version's structural schema, applied the way kube-apiserver applies it to custom resources.

kube-apiserver does three things with it, in this order: it prunes fields the schema does not know
(and nulls of non-nullable fields), fills in `default`s, and validates. `jsonschema` does the
validation; the Kubernetes extensions it does not know (`x-kubernetes-list-type`, `format: byte`,
`format: date-time`, `nullable`, `x-kubernetes-int-or-string`) are added here. Problems come back as
`Cause`s with Kubernetes' field paths, reasons and message shapes (`spec.usages[0]: Unsupported
value: "x": supported values: ...`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema
import jsonschema

from certcsi.sandbox.apiserver.objects import copy_obj

Obj = dict[str, Any]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TOP_LEVEL = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True)
class Cause:
    """One `metav1.StatusCause`: a reason such as FieldValueInvalid, a field path and a message."""

    reason: str
    field: str
    message: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.reason, self.field, self.message)


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


def json_type(value: Any) -> str:
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


def _for_validator(schema: Any) -> Any:
    """The schema as Draft 4 reads it: `nullable` admits null, int-or-string admits both."""
    if isinstance(schema, list):
        return [_for_validator(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: Obj = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: _for_validator(sub) for name, sub in value.items()}
        elif key == "default" or key.startswith("x-kubernetes-") or key == "example":
            continue
        else:
            out[key] = _for_validator(value)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    return out


class StructuralSchema:
    """Prune, default and validate objects against one CRD version's schema (compiled once)."""

    def __init__(self, schema: Obj) -> None:
        self.schema = schema
        properties = dict(schema.get("properties") or {})
        properties.pop("metadata", None)  # metadata is ObjectMeta's business, not the schema's
        self._root = {**schema, "properties": properties}
        draft4 = _for_validator(self._root)
        self._validator = jsonschema.Draft4Validator(draft4, format_checker=_format_checker())
        # The common case is a valid object: a compiled check answers it many times faster.
        self._valid = _compiled(draft4)
        # An update is checked only where it changed something (ratcheting), so one check per field.
        self._required = tuple(r for r in draft4.get("required") or () if isinstance(r, str))
        self._field_valid = {key: _compiled(sub) for key, sub in (draft4.get("properties") or {}).items()}

    # -- pruning and defaulting -------------------------------------------------------------------

    def unknown_fields(self, obj: Obj) -> list[str]:
        """Paths pruning would drop (`spec.bogus`), for the unknown-field warning or strict error."""
        found: list[str] = []
        for key, value in obj.items():
            if key in _TOP_LEVEL:
                continue
            sub = self._root["properties"].get(key)
            if sub is None:
                if not self._root.get("x-kubernetes-preserve-unknown-fields"):
                    found.append(key)
            else:
                self._unknown(value, sub, [key], found)
        return found

    def _unknown(self, value: Any, schema: Obj, parts: list[str | int], found: list[str]) -> None:
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                self._unknown(item, schema["items"], [*parts, i], found)
            return
        if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        properties: Obj | None = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                self._unknown(item, properties[key], [*parts, key], found)
            elif isinstance(additional, dict):
                self._unknown(item, additional, [*parts, key], found)
            elif additional is not True:
                found.append(field_path([*parts, key]))

    def prune_and_default(self, obj: Obj, old: Obj | None = None) -> None:
        """Drop unknown fields and non-nullable nulls, then fill defaults; in place, metadata untouched.

        A top-level field that is the very value `old` holds (a write that did not touch it) was pruned
        and defaulted when it was stored, and is left alone: it may be shared with the stored object.
        """
        preserve = bool(self._root.get("x-kubernetes-preserve-unknown-fields"))
        for key in list(obj):
            if key in _TOP_LEVEL or (old is not None and old.get(key) is obj[key]):
                continue
            sub = self._root["properties"].get(key)
            if sub is None:
                if not preserve:
                    del obj[key]
            else:
                obj[key] = self._prune(obj[key], sub)
                if obj[key] is None:
                    del obj[key]
        for key, sub in self._root["properties"].items():
            if key not in obj and isinstance(sub, dict) and "default" in sub:
                obj[key] = copy_obj(sub["default"])

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
                if not preserve and additional is not True:
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
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = copy_obj(sub["default"])

    # -- validation -------------------------------------------------------------------------------

    def validate(self, obj: Obj, old: Obj | None = None) -> list[Cause]:
        """Every schema violation of `obj` (metadata excluded), in Kubernetes' terms; [] when valid.

        With `old`, top-level fields left unchanged are not validated again (CRD validation
        ratcheting: an update is not refused for what it did not touch).
        """
        unchanged = {k for k in obj.keys() | (old or {}).keys() if old is not None and old.get(k) == obj.get(k)}
        causes: list[Cause] = []
        if self._is_valid(obj) if old is None else self._changes_valid(obj, unchanged):
            changed = {k: v for k, v in obj.items() if k not in unchanged}
            return _list_type_violations(changed, self._root, [])
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
        return [c for c in causes if c.field.split(".", 1)[0].split("[", 1)[0] not in unchanged]

    def _is_valid(self, obj: Obj) -> bool:
        try:
            self._valid(obj)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def _changes_valid(self, obj: Obj, unchanged: set[str]) -> bool:
        """Whether the fields an update changed are valid (the rest is ratcheted): each against its own
        schema, and no required one removed. A structural schema constrains nothing else at its root."""
        if any(key not in obj and key not in unchanged for key in self._required):
            return False
        try:
            for key, value in obj.items():
                if key not in unchanged and (check := self._field_valid.get(key)) is not None:
                    check(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True


def _compiled(schema: Obj) -> Callable[[Any], Any]:
    return fastjsonschema.compile(
        {**schema, "$schema": "http://json-schema.org/draft-04/schema#"},
        formats={"byte": _is_byte, "date-time": _is_date_time},
    )


def _causes_of(error: jsonschema.ValidationError) -> Iterator[Cause]:
    parts = list(error.absolute_path)
    path = field_path(parts)
    keyword = error.validator
    instance = error.instance
    if keyword == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        present = instance if isinstance(instance, dict) else {}
        for name in required:
            if name not in present:
                yield Cause("FieldValueRequired", field_path([*parts, name]), "Required value")
    elif keyword == "type" or (keyword == "anyOf" and _is_int_or_string(error)):
        wanted = error.validator_value if keyword == "type" else "integer,string"
        if isinstance(wanted, list):
            wanted = next((w for w in wanted if w != "null"), "")
        actual = json_type(instance)
        yield Cause(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "{actual}": {path} in body must be of type {wanted}: "{actual}"',
        )
    elif keyword == "enum":
        allowed: list[Any] = list(error.validator_value) if isinstance(error.validator_value, list) else []
        supported = ", ".join(go_value(v) for v in allowed)
        yield Cause(
            "FieldValueNotSupported", path, f"Unsupported value: {go_value(instance)}: supported values: {supported}"
        )
    elif keyword == "format":
        yield Cause(
            "FieldValueTypeInvalid",
            path,
            f"Invalid value: {go_value(instance)}: {path} in body must be of type "
            f"{error.validator_value}: {go_value(instance)}",
        )
    else:
        yield _bound_cause(keyword, error.validator_value, instance, path)


def _is_int_or_string(error: jsonschema.ValidationError) -> bool:
    options = error.validator_value
    return isinstance(options, list) and {json.dumps(o, sort_keys=True) for o in options} == {
        '{"type": "integer"}',
        '{"type": "string"}',
    }


def _bound_cause(keyword: Any, limit: Any, instance: Any, path: str) -> Cause:
    """kube-openapi's messages for the numeric, length and pattern keywords."""
    value = go_value(instance)
    messages = {
        "maximum": f"should be less than or equal to {limit}",
        "minimum": f"should be greater than or equal to {limit}",
        "exclusiveMaximum": f"should be less than {limit}",
        "exclusiveMinimum": f"should be greater than {limit}",
        "minLength": f"should be at least {limit} chars long",
        "pattern": f"should match '{limit}'",
        "minItems": f"should have at least {limit} items",
        "minProperties": f"should have at least {limit} properties",
        "multipleOf": f"should be a multiple of {limit}",
        "uniqueItems": "shall not contain duplicates",
    }
    if keyword == "maxLength":
        return Cause("FieldValueTooLong", path, f"Too long: may not be more than {limit} bytes")
    if keyword == "maxItems":
        return Cause("FieldValueTooMany", path, f"Too many: {len(instance)}: must have at most {limit} items")
    if keyword == "maxProperties":
        return Cause("FieldValueTooMany", path, f"Too many: {len(instance)}: must have at most {limit} items")
    rule = messages.get(str(keyword), f"failed the {keyword} rule")
    return Cause("FieldValueInvalid", path, f"Invalid value: {value}: {path} in body {rule}")


def _has_list_types(schema: Any) -> bool:
    """Whether a map or set list appears anywhere under `schema` (else its values need no walk)."""
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-list-type") in ("map", "set"):
        return True
    children = [*(schema.get("properties") or {}).values(), schema.get("items"), schema.get("additionalProperties")]
    return any(_has_list_types(child) for child in children)


_LIST_TYPES: dict[int, tuple[Obj, bool]] = {}


def _needs_walk(schema: Obj) -> bool:
    cached = _LIST_TYPES.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _LIST_TYPES[id(schema)] = (schema, _has_list_types(schema))
    return cached[1]


_WALKED: dict[int, tuple[Obj, tuple[tuple[str, Obj], ...]]] = {}


def _walked_properties(schema: Obj) -> tuple[tuple[str, Obj], ...]:
    """The properties of `schema` below which some map or set list is, worked out once per schema."""
    cached = _WALKED.get(id(schema))
    if cached is None or cached[0] is not schema:
        properties = schema.get("properties") or {}
        walked = tuple((k, sub) for k, sub in properties.items() if isinstance(sub, dict) and _needs_walk(sub))
        cached = _WALKED[id(schema)] = (schema, walked)
    return cached[1]


def _list_type_violations(value: Any, schema: Obj, parts: list[str | int]) -> list[Cause]:
    """Duplicates in `x-kubernetes-list-type: map` (by the map keys) and `set` lists, which JSON Schema cannot see."""
    found: list[Cause] = []
    if _needs_walk(schema):
        _find_duplicates(value, schema, parts, found)
    return found


def _find_duplicates(value: Any, schema: Obj, parts: list[str | int], found: list[Cause]) -> None:
    """`_list_type_violations` below a schema position that holds some map or set list."""
    if isinstance(value, dict):
        for key, sub in _walked_properties(schema):
            if key in value:
                _find_duplicates(value[key], sub, [*parts, key], found)
        return
    if not isinstance(value, list):
        return
    items = schema.get("items")
    list_type = schema.get("x-kubernetes-list-type")
    keys: list[str] = list(schema.get("x-kubernetes-list-map-keys") or [])
    seen: set[Any] = set()
    walk_items: Obj | None = items if isinstance(items, dict) and _needs_walk(items) else None
    for i, item in enumerate(value):
        if list_type == "map" and isinstance(item, dict):
            identity: Any = {k: item.get(k) for k in keys}
        elif list_type == "set":
            identity = item
        else:
            identity = None
        if identity is not None:
            key = _identity_key(identity)
            if key in seen:
                rendered = json.dumps(identity, sort_keys=True, separators=(",", ":"))
                found.append(Cause("FieldValueDuplicate", field_path([*parts, i]), f"Duplicate value: {rendered}"))
            seen.add(key)
        if walk_items is not None:
            _find_duplicates(item, walk_items, [*parts, i], found)


def _identity_key(identity: Any) -> Any:
    """Equal for two list items exactly when their identities' JSON is: strings, integers, booleans
    and null by type and value (rendering JSON for each item costs more than the rest of the walk),
    anything else by its JSON."""
    values = identity.values() if isinstance(identity, dict) else (identity,)
    if all(v is None or type(v) in (str, int, bool) for v in values):
        if isinstance(identity, dict):
            return tuple(sorted((k, type(v).__name__, v) for k, v in identity.items()))
        return (type(identity).__name__, identity)
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))
