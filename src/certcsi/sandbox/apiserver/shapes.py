"""What a schema says about the shape of a value, for merging and field ownership: a struct (named
fields), a map (any keys), a list that is atomic, a set, or a map keyed by some fields, or a scalar.

Built-in types resolve `$ref`s into sandbox/data's definitions; a CRD's schema is used as it is. Lists
default to atomic and objects to granular maps, as structured-merge-diff does for untyped values.
"""

from __future__ import annotations

import functools
from typing import Any

from certcsi.sandbox.apiserver import schemas
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.schemagen import REF_PREFIX

Obj = dict[str, Any]
_ANY: Obj = {}


class Shape:
    """One schema position; `typed` is True for built-in kinds (their structs always exist).

    Shapes are made once per schema node (`Shape(...)` returns the cached one), and each resolves
    its `$ref` and works out its kind once: merging and field ownership ask them thousands of times.
    """

    __slots__ = ("_fields", "_items", "_keys", "_target", "kind", "list_type", "schema", "typed")
    _cache: dict[tuple[int, bool], Shape] = {}

    schema: Obj
    typed: bool
    kind: str  # struct, map, list, scalar or any
    _target: Obj
    _fields: dict[str, Shape]
    _items: Shape | None
    _keys: tuple[str, ...] | None
    list_type: str  # atomic, set or map; patch-merge lists of built-ins count as maps by their merge key

    def __new__(cls, schema: Obj, typed: bool) -> Shape:
        key = (id(schema), typed)
        found = cls._cache.get(key)
        if found is not None and found.schema is schema:
            return found
        shape = super().__new__(cls)
        shape.schema, shape.typed = schema, typed
        shape._target = schemas.resolve(schema)
        shape.kind = _kind_of(shape._target)
        shape._fields = {}
        shape._items = None
        shape._keys = None
        shape.list_type = _list_type_of(shape._target)
        cls._cache[key] = shape  # holds `schema`, so its id is never reused while cached
        return shape

    def field(self, name: str) -> Shape:
        found = self._fields.get(name)
        if found is None:
            properties = self._target.get("properties") or {}
            additional = self._target.get("additionalProperties")
            if name in properties:
                found = Shape(properties[name], self.typed)
            elif isinstance(additional, dict):
                found = Shape(additional, self.typed)
            else:
                found = Shape(_ANY, self.typed)
            self._fields[name] = found
        return found

    def declares(self, name: str) -> bool:
        return name in (self._target.get("properties") or {})

    @property
    def items(self) -> Shape:
        if self._items is None:
            items = self._target.get("items")
            self._items = Shape(items if isinstance(items, dict) else _ANY, self.typed)
        return self._items

    @property
    def keys(self) -> tuple[str, ...]:
        if self._keys is None:
            target = self._target
            keys = target.get("x-kubernetes-list-map-keys")
            merge_key = target.get("x-kubernetes-patch-merge-key")
            if isinstance(keys, list) and keys:
                self._keys = tuple(str(k) for k in keys)
            else:
                self._keys = (str(merge_key),) if merge_key else ()
        return self._keys

    def key_default(self, name: str) -> Any:
        """The schema default of field `name` of this (item) shape, or None."""
        field = (self._target.get("properties") or {}).get(name)
        return schemas.resolve(field).get("default", field.get("default")) if isinstance(field, dict) else None

    @property
    def patch_strategy(self) -> str:
        return str(self._target.get("x-kubernetes-patch-strategy", ""))

    @property
    def merge_key(self) -> str:
        return str(self._target.get("x-kubernetes-patch-merge-key", ""))


def _list_type_of(target: Obj) -> str:
    declared = target.get("x-kubernetes-list-type")
    if declared in ("set", "map"):
        return str(declared)
    if declared is None and target.get("x-kubernetes-patch-merge-key"):
        return "map"
    return "atomic"


def _kind_of(target: Obj) -> str:
    if target.get("x-kubernetes-map-type") == "atomic":
        return "scalar"
    kind = target.get("type")
    if kind == "array":
        return "list"
    if kind == "object" or "properties" in target or "additionalProperties" in target:
        return "struct" if "properties" in target else "map"
    if kind is None and "oneOf" not in target and not target.get("x-kubernetes-int-or-string"):
        return "any"
    return "scalar"


_ANY_OBJECT: Obj = {"type": "object"}
# A CRD version's schema -> its root shape (metadata as ObjectMeta); kept with the schema it was made from.
_custom_roots: dict[int, tuple[Obj, Shape]] = {}


@functools.cache
def _builtin_root(definition: str) -> Shape:
    return Shape({"$ref": REF_PREFIX + definition}, True)


def root(rt: ResourceType) -> Shape:
    """The shape of a whole object of `rt`."""
    if rt.definition:
        return _builtin_root(rt.definition)
    schema: Obj = rt.custom.schema.schema if rt.custom is not None else _ANY_OBJECT
    cached = _custom_roots.get(id(schema))
    if cached is None or cached[0] is not schema:
        properties: Obj = dict(schema.get("properties") or {})
        properties["metadata"] = {"$ref": REF_PREFIX + schemas.OBJECT_META}
        cached = _custom_roots[id(schema)] = (schema, Shape({**schema, "properties": properties}, False))
    return cached[1]


def metadata_shape() -> Shape:
    return Shape({"$ref": REF_PREFIX + schemas.OBJECT_META}, True)
