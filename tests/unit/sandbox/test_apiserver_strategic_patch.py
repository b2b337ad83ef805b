"""Strategic merge patch on built-in kinds: merge keys, directives, and the order kubectl asks for."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.shapes import root
from certcsi.sandbox.apiserver.strategicpatch import apply

POD = root(BY_KEY["/pods"])


def _pod(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": {"containers": containers}}


def test_containers_merge_by_name() -> None:
    original = _pod([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patched = apply(original, {"spec": {"containers": [{"name": "b", "image": "z"}]}}, POD)
    assert patched["spec"]["containers"] == [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]


def test_patch_delete_removes_one_item_and_null_removes_a_field() -> None:
    original = _pod([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patch = {"metadata": {"labels": {"a": None}}, "spec": {"containers": [{"name": "a", "$patch": "delete"}]}}
    patched = apply(original, patch, POD)
    assert patched["spec"]["containers"] == [{"name": "b", "image": "y"}]
    assert patched["metadata"]["labels"] == {}


def test_set_element_order_reorders_and_is_not_stored() -> None:
    original = _pod([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    patched = apply(original, patch, POD)
    assert [c["name"] for c in patched["spec"]["containers"]] == ["b", "a"]
    assert "$setElementOrder/containers" not in patched["spec"]


def test_lists_without_a_merge_strategy_are_replaced() -> None:
    original = _pod([{"name": "a", "image": "x", "args": ["1", "2"]}])
    patched = apply(original, {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}, POD)
    assert patched["spec"]["containers"][0]["args"] == ["3"]


def test_patch_replace_replaces_a_map() -> None:
    original = {"metadata": {"name": "p"}, "spec": {"nodeSelector": {"a": "1", "b": "2"}}}
    patched = apply(original, {"spec": {"nodeSelector": {"$patch": "replace", "c": "3"}}}, POD)
    assert patched["spec"]["nodeSelector"] == {"c": "3"}
