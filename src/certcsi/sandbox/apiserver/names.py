"""The name rules of apimachinery's validation package, with their exact texts: qualified names (label
and annotation keys), label values, DNS-1123 labels and subdomains. Each check returns the problems
(empty when the value is valid), as IsQualifiedName and friends do."""

from __future__ import annotations

import re

from certcsi.kube.names import DNS1123_LABEL, DNS1123_SUBDOMAIN
from certcsi.kube.names import QUALIFIED_NAME as _QUALIFIED_NAME

_LABEL_VALUE = f"({_QUALIFIED_NAME})?"
_QUALIFIED_RE = re.compile(f"^{_QUALIFIED_NAME}$")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE}$")
_LABEL_RE = re.compile(f"^{DNS1123_LABEL}$")
_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN}$")

QUALIFIED_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    f"character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{_QUALIFIED_NAME}')"
)
LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    f"validation is '{_LABEL_VALUE}')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{DNS1123_LABEL}')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{DNS1123_SUBDOMAIN}')"
)


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_label(value: str) -> list[str]:
    problems = [_too_long(63)] if len(value) > 63 else []
    if not _LABEL_RE.match(value):
        problems.append(LABEL_RULE)
    return problems


def dns1123_subdomain(value: str) -> list[str]:
    problems = [_too_long(253)] if len(value) > 253 else []
    if not _SUBDOMAIN_RE.match(value):
        problems.append(SUBDOMAIN_RULE)
    return problems


def qualified_name(value: str) -> list[str]:
    """IsQualifiedName: `[prefix/]name`, the form of label and annotation keys."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        problems: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems = ["prefix part must be non-empty"]
        else:
            problems = [f"prefix part {p}" for p in dns1123_subdomain(prefix)]
    else:
        return [
            f"a qualified name {QUALIFIED_RULE.removesuffix(')')}) with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append(f"name part {_too_long(63)}")
    if name and not _QUALIFIED_RE.match(name):
        problems.append(f"name part {QUALIFIED_RULE}")
    return problems


def label_value(value: str) -> list[str]:
    problems = [_too_long(63)] if len(value) > 63 else []
    if not _LABEL_VALUE_RE.match(value):
        problems.append(LABEL_VALUE_RULE)
    return problems
