"""ObjectMeta of a request body, checked as kube-apiserver's decoder and metadata validation check it,
before the Store (and every watcher's selector) sees the object.

A field of the wrong JSON type is 400 BadRequest, as kube's typed decoding answers; label and
annotation keys or label values that break Kubernetes' syntax are 422 Invalid naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from certcsi.sandbox.apiserver import names
from certcsi.sandbox.apiserver.errors import ApiError, bad_request, invalid
from certcsi.sandbox.apiserver.resources import ResourceType

_STRINGS: Final = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
)
_INTEGERS: Final = ("generation", "deletionGracePeriodSeconds")
_OWNER_STRINGS: Final = ("apiVersion", "kind", "name", "uid")
_OWNER_BOOLS: Final = ("controller", "blockOwnerDeletion")
MAX_ANNOTATION_BYTES: Final = 256 * 1024


def _wrong_type(field: str, expected: str) -> ApiError:
    return bad_request(f"metadata.{field}: must be {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_map(meta: Mapping[str, Any], field: str) -> Mapping[str, str]:
    value = meta.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _wrong_type(field, "a map of string keys to string values")
    return value


def _key_problem(key: str) -> str | None:
    """Why `key` is not a qualified name (`[prefix/]name`), or None."""
    return "; ".join(names.qualified_name(key)) or None


def _owner_references(meta: Mapping[str, Any]) -> None:
    refs = meta.get("ownerReferences")
    if refs is None:
        return
    if not isinstance(refs, list) or not all(isinstance(ref, dict) for ref in refs):
        raise _wrong_type("ownerReferences", "a list of objects")
    for ref in refs:
        for key in _OWNER_STRINGS:
            if not isinstance(ref.get(key, ""), str):
                raise _wrong_type(f"ownerReferences.{key}", "a string")
        for key in _OWNER_BOOLS:
            if ref.get(key) is not None and not isinstance(ref[key], bool):
                raise _wrong_type(f"ownerReferences.{key}", "a boolean")


def _check_types(meta: Mapping[str, Any]) -> tuple[Mapping[str, str], Mapping[str, str]]:
    for key in _STRINGS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise _wrong_type(key, "a string")
    for key in _INTEGERS:
        if meta.get(key) is not None and not _is_int(meta[key]):
            raise _wrong_type(key, "an integer")
    finalizers = meta.get("finalizers")
    if finalizers is not None and (not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)):
        raise _wrong_type("finalizers", "a list of strings")
    _owner_references(meta)
    return _string_map(meta, "labels"), _string_map(meta, "annotations")


def check_metadata(rt: ResourceType, obj: Mapping[str, Any]) -> None:
    """Raise 400 for a metadata field of the wrong type, 422 for an invalid label or annotation."""
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise bad_request("metadata: must be an object")
    labels, annotations = _check_types(meta)
    name = meta.get("name") or meta.get("generateName") or ""
    causes: list[tuple[str, str, str]] = []
    for key, value in labels.items():
        if (problem := _key_problem(key)) is not None:
            causes.append(("FieldValueInvalid", "metadata.labels", f'Invalid value: "{key}": {problem}'))
        if problems := names.label_value(value):
            causes.append(("FieldValueInvalid", "metadata.labels", f'Invalid value: "{value}": {"; ".join(problems)}'))
    for key in annotations:
        if (problem := _key_problem(key.lower())) is not None:
            causes.append(("FieldValueInvalid", "metadata.annotations", f'Invalid value: "{key}": {problem}'))
    if sum(len(k) + len(v) for k, v in annotations.items()) > MAX_ANNOTATION_BYTES:
        causes.append(
            ("FieldValueTooLong", "metadata.annotations", f"Too long: must have at most {MAX_ANNOTATION_BYTES} bytes")
        )
    if causes:
        raise invalid(rt, name, causes)
