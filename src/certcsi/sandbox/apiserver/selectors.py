"""Label and field selectors, parsed as kube-apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from certcsi.sandbox.apiserver.errors import bad_request
from certcsi.sandbox.apiserver.resources import ResourceType

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"  # optional DNS-1123 prefix
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_TERM = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[^\s!=(),]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)|\s(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?\s*$"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin" match absent keys


def _split_terms(text: str) -> list[str]:
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _check_key(key: str, text: str) -> None:
    if len(key) > 316 or not _KEY.match(key):
        raise bad_request(f'unable to parse requirement: invalid label key "{key}": in selector "{text}"')


def _check_value(value: str, text: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise bad_request(f'unable to parse requirement: invalid label value: "{value}": in selector "{text}"')


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`; an invalid selector is 400 BadRequest."""
    if not text or not text.strip():
        return ()
    reqs = []
    for term in _split_terms(text):
        m = _TERM.match(term)
        if m is None or (m["neg"] and (m["op"] or m["setop"])):
            raise bad_request(f'unable to parse requirement: found "{term.strip()}", invalid selector "{text}"')
        key = m["key"]
        _check_key(key, text)
        if m["op"]:
            _check_value(m["value"], text)
            reqs.append(Requirement(key, "!=" if m["op"] == "!=" else "=", frozenset({m["value"]})))
        elif m["setop"]:
            values = [v.strip() for v in m["set"].split(",")]
            if values == [""]:
                raise bad_request(
                    'unable to parse requirement: for "in", "notin" operators, '
                    f'values set can\'t be empty: in selector "{text}"'
                )
            for v in values:
                _check_value(v, text)
            reqs.append(Requirement(key, m["setop"], frozenset(values)))
        else:
            reqs.append(Requirement(key, "!" if m["neg"] else "exists"))
    return tuple(reqs)


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
