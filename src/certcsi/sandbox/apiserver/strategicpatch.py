"""Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds, as kubectl's
client-side apply and `kubectl patch` send it: lists merge by their patch merge key, and the
directives `$patch` (replace, merge, delete), `$retainKeys`, `$setElementOrder/<list>` and
`$deleteFromPrimitiveList/<list>` are obeyed, never stored.
"""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.errors import bad_request
from certcsi.sandbox.apiserver.shapes import Shape

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def apply(original: Any, patch: Any, shape: Shape) -> Any:
    """`patch` applied to `original` (both owned by the caller and changed in place)."""
    if not isinstance(patch, dict):
        raise bad_request("the patch must be a JSON object to merge into the object")
    return _merge_map(original if isinstance(original, dict) else {}, patch, shape)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], shape: Shape) -> Any:
    directive = patch.get(_PATCH)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != _PATCH}
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive}")
    retain = patch.get(_RETAIN)
    orders = {k.removeprefix(_ORDER): v for k, v in patch.items() if k.startswith(_ORDER)}
    deletions = {k.removeprefix(_DELETE_FROM): v for k, v in patch.items() if k.startswith(_DELETE_FROM)}
    for key, value in patch.items():
        if key in (_PATCH, _RETAIN) or key.startswith((_ORDER, _DELETE_FROM)):
            continue
        if value is None:
            original.pop(key, None)
            continue
        merged = _merge_value(original.get(key), value, shape.field(key))
        if merged is None:
            original.pop(key, None)
        else:
            original[key] = merged
    for key, values in deletions.items():
        if isinstance(original.get(key), list) and isinstance(values, list):
            original[key] = [v for v in original[key] if v not in values]
    for key, order in orders.items():
        if isinstance(original.get(key), list) and isinstance(order, list):
            original[key] = _ordered(original[key], order, shape.field(key))
    if isinstance(retain, list):
        for key in [k for k in original if k not in retain]:
            del original[key]
    return original


def _merge_value(original: Any, patch: Any, shape: Shape) -> Any:
    if isinstance(patch, dict):
        return _merge_map(original if isinstance(original, dict) else {}, patch, shape)
    if isinstance(patch, list) and "merge" in shape.patch_strategy.split(","):
        return _merge_list(original if isinstance(original, list) else [], patch, shape)
    return patch


def _merge_list(original: list[Any], patch: list[Any], shape: Shape) -> list[Any]:
    key = shape.merge_key
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and _PATCH in item)]
    if not key:  # a primitive list merged as a set
        return [*original, *(item for item in patch if item not in original)]
    result = list(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get(_PATCH) == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(_merge_map({}, item, shape.items))
        else:
            result[index] = _merge_map(result[index], item, shape.items)
    return result


def _ordered(items: list[Any], order: list[Any], shape: Shape) -> list[Any]:
    key = shape.merge_key

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(o) if isinstance(o, dict) else o for o in order]
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (wanted.index(identity(pair[1])) if identity(pair[1]) in wanted else len(wanted), pair[0]),
    )
    return [item for _, item in ranked]
