"""Server-side apply (`application/apply-patch+yaml`): merge a manager's applied configuration into the
live object by the schema's list and map semantics, drop what it applied before and no longer does,
and refuse (409, each manager and field named) to change fields another manager set, unless forced.
"""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver import fieldsets
from certcsi.sandbox.apiserver.fieldmanager import Entry, conflict_error, entries_of, reset_paths, store_entries
from certcsi.sandbox.apiserver.fieldsets import Element, Path
from certcsi.sandbox.apiserver.objects import Obj, copy_obj
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.shapes import Shape, root


def merge(live: Any, config: Any, shape: Shape) -> Any:
    """`config` merged into `live` (both owned by the caller); config wins, lists merge by their keys."""
    kind = shape.kind
    if isinstance(config, dict) and isinstance(live, dict) and kind in ("struct", "map", "any"):
        for key, value in config.items():
            if value is None:
                live.pop(key, None)
            else:
                live[key] = merge(live.get(key), value, shape.field(key))
        return live
    if isinstance(config, list) and isinstance(live, list) and kind == "list" and shape.list_type != "atomic":
        items = shape.items
        merged = list(live)
        position = {fieldsets.item_element(shape, i, item): i for i, item in enumerate(merged)}
        for i, item in enumerate(config):
            element = fieldsets.item_element(shape, i, item)
            if element in position:
                merged[position[element]] = merge(merged[position[element]], item, items)
            else:
                position[element] = len(merged)
                merged.append(item)
        return merged
    return config


def _remove(obj: Any, path: Path, shape: Shape) -> None:
    """Delete the field or list item at `path` (if it is there)."""
    parent: Any = obj
    parent_shape = shape
    for element in path[:-1]:
        parent, parent_shape = _step(parent, parent_shape, element)
        if parent is None:
            return
    last = path[-1]
    if isinstance(parent, dict) and last[0] == "f":
        parent.pop(last[1], None)
    elif isinstance(parent, list):
        for i, item in enumerate(parent):
            if fieldsets.item_element(parent_shape, i, item) == last:
                del parent[i]
                return


def _step(value: Any, shape: Shape, element: Element) -> tuple[Any, Shape]:
    if isinstance(value, dict) and element[0] == "f":
        return value.get(element[1]), shape.field(element[1])
    if isinstance(value, list):
        for i, item in enumerate(value):
            if fieldsets.item_element(shape, i, item) == element:
                return item, shape.items
    return None, shape


def _tracked(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def apply(
    rt: ResourceType,
    live: Obj | None,
    config: Obj,
    *,
    manager: str,
    force: bool,
    subresource: str,
    now: str,
) -> Obj:
    """The object after `manager` applies `config` to `live` (None: it does not exist yet)."""
    shape = root(rt)
    reset = reset_paths(rt, subresource, config)
    applied = fieldsets.strip(fieldsets.field_set(_tracked(config), shape), reset=reset)
    entries = entries_of(live) if live is not None else []
    mine = next(
        (e for e in entries if e.operation == "Apply" and e.manager == manager and e.subresource == subresource), None
    )
    others = [e for e in entries if e is not mine]
    merged: Obj = merge(copy_obj(_tracked(live)) if live is not None else {}, copy_obj(_tracked(config)), shape)
    if mine is not None:
        held_by_others = set().union(*(e.fields for e in others)) if others else set()
        for path in sorted(mine.fields - applied - held_by_others, key=len, reverse=True):
            _remove(merged, path, shape)
    changed, _ = fieldsets.changes(_tracked(live) if live is not None else None, merged, shape)
    changed = fieldsets.strip(changed, reset=reset)
    conflicts = [(entry, path) for entry in others for path in sorted(entry.fields & changed)]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for entry, path in conflicts:
        entry.fields.discard(path)
    api_version = str(config.get("apiVersion") or rt.api_version)
    entries = [*others, Entry(manager, "Apply", api_version, subresource, now, set(applied))]
    store_entries(merged, entries)
    return merged
