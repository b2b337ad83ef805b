"""The built-in types' OpenAPI v3 schemas (sandbox/data/builtin-openapi.json, made by schemagen.py),
and walking an object against them: unknown fields, wrong JSON types, list and map semantics.

A `Node` is one schema position with its `$ref`s resolved; custom resources use the same walk over
their CRD's schema (where nothing needs resolving).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from certcsi.sandbox.apiserver.crdschema import json_type
from certcsi.sandbox.apiserver.schemagen import REF_PREFIX

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"


@functools.cache
def definitions() -> Mapping[str, Obj]:
    """Every packaged definition by name (`io.k8s.api.core.v1.Pod`)."""
    text = importlib.resources.files("certcsi.sandbox").joinpath("data/builtin-openapi.json").read_text("utf-8")
    loaded: dict[str, Obj] = json.loads(text)
    return loaded


def definition(name: str) -> Obj:
    return definitions()[name]


def resolve(schema: Obj) -> Obj:
    """Follow `$ref` (and a single-entry `allOf`) to the schema it names, keeping no siblings."""
    while True:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            schema = definitions()[ref.removeprefix(REF_PREFIX)]
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            schema = all_of[0]
            continue
        return schema


def ref_name(schema: Obj) -> str:
    """The definition a schema position refers to (`PodSpec`), or ''."""
    ref = schema.get("$ref")
    return ref.removeprefix(REF_PREFIX) if isinstance(ref, str) else ""


@dataclass(frozen=True)
class Problem:
    """A value whose JSON type does not fit: where, what it is, and the Go type it would decode into."""

    path: str
    actual: str
    go_type: str
    struct: str  # the Go struct the field belongs to, as json.Unmarshal names it


def _go_type(schema: Obj) -> str:
    """How encoding/json would name the target type of a field, for a decoding error."""
    name = ref_name(schema)
    target = resolve(schema)
    if name:
        short = name.rsplit(".", 1)[-1]
        if name.endswith("IntOrString"):
            return "intstr.IntOrString"
        if name.endswith(".Time") or name.endswith(".MicroTime"):
            return f"v1.{short}"
        kind = target.get("type")
        if kind == "string":
            return "string"
        version = name.rsplit(".", 2)[-2]
        return f"{version}.{short}"
    kind = target.get("type")
    if kind == "array":
        return "[]" + _go_type(target.get("items") or {})
    if kind == "object" and isinstance(target.get("additionalProperties"), dict):
        return "map[string]" + _go_type(target["additionalProperties"])
    if kind == "integer":
        return "int32" if target.get("format") == "int32" else "int64"
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    return str(kind or "interface {}")


def _fits(value: Any, schema: Obj) -> bool:
    if value is None:
        return True
    if "oneOf" in schema:  # IntOrString, Quantity
        return any(_fits(value, option) for option in schema["oneOf"] if isinstance(option, dict))
    kind = schema.get("type")
    if kind is None:
        return True
    actual = json_type(value)
    if kind == "number":
        return actual in ("number", "integer")
    if kind == "integer" and actual == "number":
        return float(value).is_integer()
    return bool(actual == kind)


_NONE: frozenset[type] = frozenset({type(None)})
# What `_fits` takes without a look at the value beyond its type, by schema type (bool is not an int here).
_SCALARS: dict[Any, frozenset[type]] = {
    None: frozenset({type(None), str, int, bool, float}),
    "string": frozenset({type(None), str}),
    "integer": frozenset({type(None), int}),
    "boolean": frozenset({type(None), bool}),
    "number": frozenset({type(None), int, float}),
}


class Node:
    """One schema position with its `$ref` resolved and what `walk` asks of it worked out once
    (`Node(schema)` returns the cached one): every write of a built-in kind walks its object."""

    __slots__ = (
        "_children",
        "_go_type",
        "additional",
        "free",
        "items",
        "kind",
        "name",
        "object",
        "one_of",
        "properties",
        "scalars",
        "schema",
        "struct",
        "target",
    )
    _cache: dict[int, Node] = {}

    schema: Obj
    target: Obj  # `schema` resolved
    kind: Any  # the target's `type`
    one_of: Any  # the target's `oneOf`
    name: str  # the definition `schema` refers to, or ''
    object: bool  # an object whose fields are checked one by one
    free: bool  # an object that takes any fields (RawExtension, JSON)
    properties: Obj | None
    additional: Obj | None
    items: Obj | None
    _children: dict[str, Node]
    _go_type: str | None
    scalars: frozenset[type]  # Python types of scalar values that certainly fit (nothing to walk below)
    struct: str  # the Go struct a field here belongs to ('' for none of its own)

    def __new__(cls, schema: Obj) -> Node:
        found = cls._cache.get(id(schema))
        if found is not None and found.schema is schema:
            return found
        node = super().__new__(cls)
        target = resolve(schema)
        node.schema, node.target, node.name = schema, target, ref_name(schema)
        node.kind, node.one_of = target.get("type"), target.get("oneOf")
        node.object = target.get("type", "object") == "object" and "oneOf" not in target
        properties, additional = target.get("properties"), target.get("additionalProperties")
        node.properties = properties if isinstance(properties, dict) else None
        node.additional = additional if isinstance(additional, dict) else None
        node.free = node.properties is None and node.additional is None
        items = target.get("items")
        node.items = items if isinstance(items, dict) else None
        node._children, node._go_type = {}, None
        plain = node.one_of is None and (node.kind is None or isinstance(node.kind, str))
        node.scalars = _SCALARS.get(node.kind, _NONE) if plain else _NONE
        node.struct = node.name.rsplit(".", 1)[-1] if node.properties is not None else ""
        cls._cache[id(schema)] = node  # holds `schema`, so its id is never reused while cached
        return node

    def child(self, key: str) -> Node | None:
        """The node of field `key`, None for a field the schema does not know."""
        found = self._children.get(key)
        if found is not None:
            return found
        if self.properties is not None and key in self.properties:
            found = self._children[key] = Node(self.properties[key])  # kept by name: fields are few
            return found
        # A map's keys are the data's own (labels, annotations): never kept by key.
        return Node(self.additional) if self.additional is not None else None

    def fits(self, value: Any) -> bool:
        """Whether `value` has a JSON type the schema takes (strings, objects and arrays decided here)."""
        kind = self.kind
        if value is None or (kind is None and self.one_of is None):
            return True
        if self.one_of is None:
            simple = type(value)
            if simple is str:
                return bool(kind == "string")
            if simple is dict:
                return bool(kind == "object")
            if simple is list:
                return bool(kind == "array")
        return _fits(value, self.target)

    @property
    def go_type(self) -> str:
        if self._go_type is None:
            self._go_type = _go_type(self.schema)
        return self._go_type


def walk(value: Any, schema: Obj, path: str = "", *, struct: str = "") -> Iterator[tuple[str, str, Problem | None]]:
    """Yield ("unknown", path, None) for each field the schema does not know and ("type", path, problem)
    for each value of the wrong JSON type, depth first, as Go's strict decoder finds them."""
    found: list[tuple[str, str, Problem | None]] = []
    _walk(value, Node(schema), path, struct, found)
    return iter(found)


def _walk(value: Any, node: Node, path: str, struct: str, found: list[tuple[str, str, Problem | None]]) -> None:
    if isinstance(value, dict):
        if not node.fits(value):
            found.append(("type", path, Problem(path, json_type(value), node.go_type, struct)))
            return
        if not node.object or node.free:
            return  # a free-form object (RawExtension, JSON): anything goes
        here = node.struct or struct
        for key, item in value.items():
            child = node.child(key)
            if child is not None and type(item) in child.scalars:
                continue  # most fields: a scalar of the right type, nothing to report or walk
            where = f"{path}.{key}" if path else key
            if child is None:
                found.append(("unknown", where, None))
            else:
                _walk(item, child, where, here, found)
    elif isinstance(value, list):
        if not node.fits(value):
            found.append(("type", path, Problem(path, json_type(value), node.go_type, struct)))
            return
        if node.items is not None:
            items = Node(node.items)
            scalars = items.scalars
            for i, item in enumerate(value):
                if type(item) not in scalars:
                    _walk(item, items, f"{path}[{i}]", struct, found)
    elif not node.fits(value):
        found.append(("type", path, Problem(path, json_type(value), node.go_type, struct)))


def prune(value: Any, schema: Obj) -> None:
    """Drop, in place, every field the schema does not know: what Go's typed decoding leaves behind."""
    target = resolve(schema)
    if isinstance(value, dict) and target.get("type", "object") == "object" and "oneOf" not in target:
        properties: Obj | None = target.get("properties")
        additional = target.get("additionalProperties")
        if properties is None and not isinstance(additional, dict):
            return
        for key in list(value):
            if properties is not None and key in properties:
                prune(value[key], properties[key])
            elif isinstance(additional, dict):
                prune(value[key], additional)
            else:
                del value[key]
    elif isinstance(value, list) and isinstance(target.get("items"), dict):
        for item in value:
            prune(item, target["items"])


@functools.cache
def definition_ref(name: str) -> Obj:
    """A schema referring to definition `name`, the same object each time (nodes are cached by schema)."""
    return {"$ref": REF_PREFIX + name}


def kind_definition(api_version: str, kind: str) -> str:
    """The definition name of a built-in kind, found by its x-kubernetes-group-version-kind."""
    return _by_gvk().get((api_version, kind), "")


@functools.cache
def _by_gvk() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            group, version = gvk.get("group", ""), gvk.get("version", "")
            found.setdefault((f"{group}/{version}" if group else version, gvk.get("kind", "")), name)
    return found
