"""What a schema says about the shape of a value, for merging and field ownership: a struct (named
fields), a map (any keys), a list that is atomic, a set, or a map keyed by some fields, or a scalar.

Built-in types resolve `$ref`s into sandbox/data's definitions; a CRD's schema is used as it is. Lists
default to atomic and objects to granular maps, as structured-merge-diff does for untyped values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certcsi.sandbox.apiserver import schemas
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.schemagen import REF_PREFIX

Obj = dict[str, Any]
_ANY: Obj = {}


@dataclass(frozen=True)
class Shape:
    """One schema position; `typed` is True for built-in kinds (their structs always exist)."""

    schema: Obj
    typed: bool

    def _target(self) -> Obj:
        return schemas.resolve(self.schema)

    @property
    def kind(self) -> str:
        """struct, map, list, scalar or any."""
        target = self._target()
        if target.get("x-kubernetes-map-type") == "atomic":
            return "scalar"
        kind = target.get("type")
        if kind == "array":
            return "list"
        if kind == "object" or "properties" in target or "additionalProperties" in target:
            if "properties" in target:
                return "struct"
            return "map"
        if kind is None and "oneOf" not in target and not target.get("x-kubernetes-int-or-string"):
            return "any"
        return "scalar"

    def field(self, name: str) -> Shape:
        target = self._target()
        properties = target.get("properties") or {}
        if name in properties:
            return Shape(properties[name], self.typed)
        additional = target.get("additionalProperties")
        if isinstance(additional, dict):
            return Shape(additional, self.typed)
        return Shape(_ANY, self.typed)

    def declares(self, name: str) -> bool:
        return name in (self._target().get("properties") or {})

    @property
    def items(self) -> Shape:
        items = self._target().get("items")
        return Shape(items if isinstance(items, dict) else _ANY, self.typed)

    @property
    def list_type(self) -> str:
        """atomic, set or map; patch-merge lists of built-ins count as maps by their merge key."""
        target = self._target()
        declared = target.get("x-kubernetes-list-type")
        if declared in ("set", "map"):
            return str(declared)
        if declared is None and target.get("x-kubernetes-patch-merge-key"):
            return "map"
        return "atomic"

    @property
    def keys(self) -> tuple[str, ...]:
        target = self._target()
        keys = target.get("x-kubernetes-list-map-keys")
        if isinstance(keys, list) and keys:
            return tuple(str(k) for k in keys)
        merge_key = target.get("x-kubernetes-patch-merge-key")
        return (str(merge_key),) if merge_key else ()

    def key_default(self, name: str) -> Any:
        """The schema default of field `name` of this (item) shape, or None."""
        field = (self._target().get("properties") or {}).get(name)
        return schemas.resolve(field).get("default", field.get("default")) if isinstance(field, dict) else None

    @property
    def patch_strategy(self) -> str:
        return str(self._target().get("x-kubernetes-patch-strategy", ""))

    @property
    def merge_key(self) -> str:
        return str(self._target().get("x-kubernetes-patch-merge-key", ""))


def root(rt: ResourceType) -> Shape:
    """The shape of a whole object of `rt`."""
    if rt.definition:
        return Shape({"$ref": REF_PREFIX + rt.definition}, True)
    schema: Obj = rt.custom.schema.schema if rt.custom is not None else {"type": "object"}
    properties: Obj = dict(schema.get("properties") or {})
    properties["metadata"] = {"$ref": REF_PREFIX + schemas.OBJECT_META}
    return Shape({**schema, "properties": properties}, False)


def metadata_shape() -> Shape:
    return Shape({"$ref": REF_PREFIX + schemas.OBJECT_META}, True)
