"""Patch bodies: RFC 7386 merge patch, RFC 6902 JSON patch, and the content types that pick them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.patching import (
    JSON_PATCH,
    MERGE,
    STRATEGIC,
    apply_patch,
    media_type,
    merge_patch,
    patch_kind,
)

# RFC 7386 appendix A: (original, patch, result).
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC7386)
def test_merge_patch_follows_rfc_7386(original: Any, patch: Any, result: Any) -> None:
    assert merge_patch(copy.deepcopy(original), copy.deepcopy(patch)) == result


def test_merge_and_strategic_merge_objects() -> None:
    target = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "y"}}
    for kind in (MERGE, STRATEGIC):
        patched = apply_patch(kind, copy.deepcopy(target), {"metadata": {"labels": {"a": None}}, "data": {"z": "w"}})
        assert patched == {"metadata": {"labels": {"b": "2"}}, "data": {"x": "y", "z": "w"}}


def test_merge_patch_that_is_not_an_object_is_400() -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(MERGE, {"a": 1}, [1])
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")


def test_json_patch_operations() -> None:
    patched = apply_patch(
        JSON_PATCH,
        {"metadata": {"name": "x"}, "data": {"a": "1"}},
        [
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "remove", "path": "/data/a"},
            {"op": "copy", "from": "/data/b", "path": "/data/c"},
            {"op": "test", "path": "/metadata/name", "value": "x"},
        ],
    )
    assert patched == {"metadata": {"name": "x"}, "data": {"b": "2", "c": "2"}}


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/a/b/c", "value": 1}],
        [{"op": "frobnicate", "path": "/a"}],
        [{"path": "/a"}],
        [{"op": "add", "path": "no-slash", "value": 1}],
        [{"op": "replace", "path": "", "value": [1]}],
    ],
)
def test_json_patch_that_cannot_apply_is_an_api_error(patch: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(JSON_PATCH, {"a": 1}, patch)
    assert caught.value.code in (400, 422)


@pytest.mark.parametrize("patch", [{"op": "add"}, "text", [1, 2], None])
def test_json_patch_must_be_an_array_of_objects(patch: Any) -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(JSON_PATCH, {"a": 1}, patch)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
operations = st.lists(
    st.dictionaries(
        st.sampled_from(["op", "path", "from", "value"]),
        st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "/a", "/a/0", "/-", "", "/b/c"])
        | json_values,
    ),
    max_size=4,
)


@given(target=st.dictionaries(st.sampled_from(["a", "b"]), json_values, max_size=2), patch=operations | json_values)
def test_any_patch_either_applies_or_is_an_api_error(target: dict[str, Any], patch: Any) -> None:
    for kind in (JSON_PATCH, MERGE):
        try:
            result = apply_patch(kind, copy.deepcopy(target), copy.deepcopy(patch))
        except ApiError as exc:
            assert exc.code in (400, 422)
        else:
            assert isinstance(result, dict)


@pytest.mark.parametrize(
    ("header", "strategic", "kind"),
    [
        ("application/merge-patch+json", True, MERGE),
        ("application/json-patch+json; charset=utf-8", False, JSON_PATCH),
        ("Application/Strategic-Merge-Patch+JSON", True, STRATEGIC),
    ],
)
def test_patch_kind_from_content_type(header: str, strategic: bool, kind: str) -> None:
    assert patch_kind(header, strategic=strategic) == kind


@pytest.mark.parametrize(
    ("header", "strategic"),
    [
        ("application/json", True),
        (None, True),
        ("application/strategic-merge-patch+json", False),
    ],
)
def test_other_patch_content_types_are_415(header: str | None, strategic: bool) -> None:
    with pytest.raises(ApiError) as caught:
        patch_kind(header, strategic=strategic)
    assert (caught.value.code, caught.value.reason) == (415, "UnsupportedMediaType")
    assert ("strategic" in caught.value.message) is strategic


def test_media_type_drops_parameters() -> None:
    assert media_type(" Application/JSON ; charset=utf-8") == "application/json"
    assert media_type(None) == ""
