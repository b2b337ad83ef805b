"""Sets of field paths, as structured-merge-diff computes them: which fields an object sets, which a
write changed, and their `fieldsV1` encoding in metadata.managedFields.

A path is a tuple of elements: ("f", name) a field, ("k", '{"name":"c"}') a keyed list item,
("v", '"x"') a set member, ("i", "0") a position. Paths kube-apiserver never tracks (apiVersion,
metadata.name, resourceVersion, ...) are stripped by `strip`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from certcsi.sandbox.apiserver.shapes import Shape

Element = tuple[str, str]
Path = tuple[Element, ...]
FieldSet = frozenset[Path]

_META_STRIPPED = (
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "generation",
    "managedFields",
    "resourceVersion",
)
STRIPPED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)}
    | {(("f", "metadata"), ("f", name)) for name in _META_STRIPPED}
)


def item_element(shape: Shape, index: int, item: Any) -> Element:
    """The path element naming one list item: by its keys, its value, or its position."""
    list_type = shape.list_type
    keys = shape.keys
    if list_type == "map" and keys and isinstance(item, dict):
        # A key field left out takes its schema default (a port's protocol is TCP), as structured-merge-diff does.
        fields = {k: item[k] if k in item else shape.items.key_default(k) for k in sorted(keys)}
        return ("k", json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":")))
    if list_type == "set":
        return ("v", json.dumps(item, separators=(",", ":"), sort_keys=True))
    return ("i", str(index))


def _is_leaf(value: Any, shape: Shape) -> bool:
    kind = shape.kind
    if kind == "scalar":
        return True
    if kind == "list":
        return shape.list_type == "atomic" or not isinstance(value, list)
    if kind == "any":
        return not isinstance(value, dict)
    return not isinstance(value, dict)


def field_set(value: Any, shape: Shape, path: Path = ()) -> set[Path]:
    """Every path `value` sets (structured-merge-diff's ToFieldSet)."""
    out: set[Path] = set()
    _collect(value, shape, path, out)
    return out


def _collect(value: Any, shape: Shape, path: Path, out: set[Path]) -> None:
    if _is_leaf(value, shape):
        out.add(path)
        return
    if isinstance(value, list):
        items = shape.items
        for i, item in enumerate(value):
            child = (*path, item_element(shape, i, item))
            out.add(child)
            if not _is_leaf(item, items):
                _collect(item, items, child, out)
        return
    for key, item in value.items():
        child = (*path, ("f", key))
        sub = shape.field(key)
        if not shape.declares(key):
            out.add(child)
        _collect(item, sub, child, out)


def _items_by_element(value: list[Any], shape: Shape) -> dict[Element, Any]:
    return {item_element(shape, i, item): item for i, item in enumerate(value)}


def changes(old: Any, new: Any, shape: Shape, path: Path = ()) -> tuple[set[Path], set[Path]]:
    """(added or modified, removed) paths from `old` to `new` (structured-merge-diff's Compare)."""
    changed: set[Path] = set()
    removed: set[Path] = set()
    _compare(old, new, shape, path, changed=changed, removed=removed, node=False)
    return changed, removed


def _compare(
    old: Any, new: Any, shape: Shape, path: Path, *, changed: set[Path], removed: set[Path], node: bool
) -> None:
    if old is None and new is None:
        return
    if old is None:
        changed.update(field_set(new, shape, path))
        if node or not shape.typed:
            changed.add(path)
        return
    if new is None:
        removed.update(field_set(old, shape, path))
        removed.add(path)
        return
    if _is_leaf(new, shape) or _is_leaf(old, shape) or type(old) is not type(new):
        if old != new:
            changed.add(path)
        return
    if isinstance(new, list):
        before, after = _items_by_element(old, shape), _items_by_element(new, shape)
        items = shape.items
        for element in after.keys() | before.keys():
            _compare(
                before.get(element),
                after.get(element),
                items,
                (*path, element),
                changed=changed,
                removed=removed,
                node=True,
            )
        return
    for key in new.keys() | old.keys():
        sub = shape.field(key)
        _compare(
            old.get(key),
            new.get(key),
            sub,
            (*path, ("f", key)),
            changed=changed,
            removed=removed,
            node=not shape.declares(key),
        )


def strip(paths: Iterable[Path], *, reset: Iterable[Path] = ()) -> set[Path]:
    """`paths` without those kube-apiserver never tracks, nor any under a `reset` prefix."""
    prefixes = tuple(reset)
    if all(len(r) == 1 for r in prefixes):  # top-level fields (status, or all but status): one lookup each
        tops = {r[0] for r in prefixes}
        return {p for p in paths if p and p[0] not in tops and p not in STRIPPED}
    return {p for p in paths if p and p not in STRIPPED and not any(p[: len(r)] == r for r in prefixes)}


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """The `fieldsV1` tree: `f:`/`k:`/`v:`/`i:` keys, and `.` for a node that is itself a member."""
    tree: dict[str, Any] = {}
    nodes = []
    for path in sorted(set(paths)):
        node = tree
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
        nodes.append(node)
    for node in nodes:  # once every path is in, a member with members below is marked as one itself
        if node:
            node.setdefault(".", {})
    return tree


# What `strip` drops at the top of an object: the path itself (None), or these paths below it.
_UNTRACKED: dict[str, frozenset[str] | None] = {"apiVersion": None, "kind": None, "metadata": frozenset(_META_STRIPPED)}


class _Repeated(Exception):
    """Two items of one list have the same element: their paths merge, which only the set form does."""


def created(value: Any, shape: Shape, *, without: Iterable[str] = ()) -> dict[str, Any]:
    """`encode(strip(field_set(value, shape), reset=...))` for the top-level fields `without`, in one
    walk and without the set of paths: the fieldsV1 tree of what a create sets."""
    if _is_leaf(value, shape):
        return {}
    tree: dict[str, Any] = {}
    try:
        _fill(tree, value, shape, untracked=_UNTRACKED, skip=frozenset(without))
    except _Repeated:
        return encode(strip(field_set(value, shape), reset=[(("f", key),) for key in without]))
    return tree


def _fill(
    node: dict[str, Any],
    value: Any,
    shape: Shape,
    *,
    untracked: dict[str, frozenset[str] | None] | frozenset[str] | None,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Add the children of `value` (not a leaf) to `node` as `encode` orders them (by element), each
    member with members below it marked "."."""
    if not isinstance(value, list):
        _fill_fields(node, value, shape, untracked=untracked, skip=skip)
        return
    items = shape.items
    children = [(item_element(shape, i, item), item) for i, item in enumerate(value)]
    children.sort(key=lambda child: child[0])
    previous: Element | None = None
    for element, item in children:
        if element == previous:
            raise _Repeated
        previous = element
        child: dict[str, Any] = {}  # every list item is a member
        if not _is_leaf(item, items):
            _fill(child, item, items, untracked=None)
            if child:
                child["."] = {}
        node[f"{element[0]}:{element[1]}"] = child


def _fill_fields(
    node: dict[str, Any],
    value: dict[str, Any],
    shape: Shape,
    *,
    untracked: dict[str, frozenset[str] | None] | frozenset[str] | None,
    skip: frozenset[str],
) -> None:
    """`_fill` for an object: its fields in name order (a dict's keys never repeat)."""
    for name in sorted(value):
        if name in skip:
            continue
        item = value[name]
        sub = shape.field(name)
        leaf = _is_leaf(item, sub)
        member = leaf or not shape.declares(name)
        below: dict[str, frozenset[str] | None] | frozenset[str] | None = None
        if untracked is not None and name in untracked:
            member = False
            if isinstance(untracked, dict):
                below = untracked[name]
        child: dict[str, Any] = {}
        if not leaf:
            _fill(child, item, sub, untracked=below)
        if child or member:
            if child and member:
                child["."] = {}
            node["f:" + name] = child


def decode(tree: Any, prefix: Path = ()) -> set[Path]:
    """The paths a `fieldsV1` tree holds; anything that is not a tree of objects holds nothing."""
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for key, sub in tree.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        kind, _, rest = str(key).partition(":")
        if kind not in ("f", "k", "v", "i") or not _:
            continue
        child = (*prefix, (kind, rest))
        if isinstance(sub, dict) and sub:
            out.update(decode(sub, child))
        else:
            out.add(child)
    return out


def render(path: Path) -> str:
    """A path as kube-apiserver writes it in a conflict: `.spec.containers[name="c"].image`."""
    out = []
    for kind, value in path:
        if kind == "f":
            out.append(f".{value}")
        elif kind == "k":
            keys = json.loads(value)
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            out.append(f"[={value}]")
        else:
            out.append(f"[{value}]")
    return "".join(out)


def prefixes(path: Path) -> Iterator[Path]:
    for i in range(1, len(path)):
        yield path[:i]
