"""Label and field selectors, parsed as kube-apiserver parses them (label selectors in labelselectors.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from certcsi.sandbox.apiserver import labelselectors
from certcsi.sandbox.apiserver.errors import bad_request
from certcsi.sandbox.apiserver.labelselectors import Requirement
from certcsi.sandbox.apiserver.resources import ResourceType

__all__ = [
    "FieldSelector",
    "Requirement",
    "field_selector_name",
    "fields_match",
    "labels_match",
    "matcher",
    "parse_field_selector",
    "parse_label_selector",
]


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`; an invalid selector is 400 BadRequest."""
    return labelselectors.parse(text)


def labels_match(reqs: tuple[Requirement, ...], obj: Mapping[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


FieldSelector = tuple[tuple[str, bool, str], ...]  # (field path, equal?, value)


def parse_field_selector(text: str | None, rt: ResourceType) -> FieldSelector:
    """Parse `metadata.name=x,spec.nodeName!=y`; fields the type does not index are 400 BadRequest."""
    if not text or not text.strip():
        return ()
    allowed = {"metadata.name", "metadata.namespace", *rt.fields}
    out = []
    for term in text.split(","):
        m = re.match(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if m is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        out.append((field, op != "!=", value))
    return tuple(out)


def fields_match(sel: FieldSelector, obj: Mapping[str, Any]) -> bool:
    return all((_field_value(obj, f) == v) == eq for f, eq, v in sel)


def matcher(labels: tuple[Requirement, ...], fields: FieldSelector) -> Callable[[Mapping[str, Any]], bool]:
    if not labels and not fields:
        return lambda _obj: True
    return lambda obj: labels_match(labels, obj) and fields_match(fields, obj)


def field_selector_name(sel: FieldSelector) -> str:
    """The object name a `metadata.name=X` selector pins, for RBAC resourceNames on list/watch."""
    for field, eq, value in sel:
        if field == "metadata.name" and eq:
            return value
    return ""
