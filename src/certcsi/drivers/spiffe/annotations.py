"""`--extra-certificate-request-annotations`: "k=v,k2=v2" into annotations for every request.

Parsed like pflag's StringToString (one CSV record, each field split at its first "="), but a
malformed field, an invalid key or a repeated key is an error rather than a surprise at issuance.
Keys under `spiffe.csi.cert-manager.io` are reserved for the driver and dropped, as upstream does.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from certcsi.kube.names import is_dns_subdomain, is_name_part

__all__ = ["RESERVED_PREFIX", "ExtraAnnotations", "is_reserved", "parse_extra_annotations", "without_reserved"]

RESERVED_PREFIX = "spiffe.csi.cert-manager.io"
_FLAG = "--extra-certificate-request-annotations"


@dataclass(frozen=True)
class ExtraAnnotations:
    """The annotations to add, and the reserved keys that were dropped (for a warning)."""

    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    dropped: tuple[str, ...] = ()


def is_reserved(key: str) -> bool:
    """Upstream drops any key that starts with the prefix; a subdomain of it is reserved too."""
    prefix = key.split("/", 1)[0] if "/" in key else ""
    return key.startswith(RESERVED_PREFIX) or prefix.endswith("." + RESERVED_PREFIX)


def without_reserved(annotations: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in annotations.items() if not is_reserved(k)}


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "has an empty prefix before '/'"
    if prefix and not is_dns_subdomain(prefix):
        return "has a prefix that is not a lowercase DNS subdomain of at most 253 characters"
    if not is_name_part(name):
        return (
            "must be a name of at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
        )
    return None


def parse_extra_annotations(text: str) -> ExtraAnnotations:
    """Parse the flag's value; ValueError naming the flag, the field and the rule."""
    if not text.strip():
        return ExtraAnnotations()
    try:
        (fields,) = list(csv.reader([text], strict=True))
    except (csv.Error, ValueError):
        raise ValueError(f"{_FLAG}: malformed quoting in {text!r}") from None
    annotations: dict[str, str] = {}
    dropped: list[str] = []
    for item in fields:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{_FLAG}: {item!r} must be formatted as key=value")
        problem = _key_problem(key)
        if problem is not None:
            raise ValueError(f"{_FLAG}: annotation key {key!r} {problem}")
        if key in annotations or key in dropped:
            raise ValueError(f"{_FLAG}: annotation key {key!r} is given twice")
        if is_reserved(key):
            dropped.append(key)
        else:
            annotations[key] = value
    return ExtraAnnotations(annotations=MappingProxyType(annotations), dropped=tuple(dropped))
