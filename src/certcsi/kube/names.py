"""Kubernetes naming rules, so a name no object can have is refused before anything is created.

An issuer is a custom resource: the API server accepts only a DNS subdomain as its name, its API
group is a DNS subdomain, and its kind is what a CustomResourceDefinition may declare (a DNS-1035
label once lower-cased). cert-manager's own group has exactly two kinds.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "DNS_SUBDOMAIN_RULE",
    "KIND_RULE",
    "QUALIFIED_NAME",
    "dns_subdomain_problem",
    "is_dns_subdomain",
    "is_name_part",
    "is_qualified_name",
    "issuer_ref_problem",
    "kind_problem",
]

CERT_MANAGER_GROUP = "cert-manager.io"
CERT_MANAGER_KINDS = ("Issuer", "ClusterIssuer")

DNS_SUBDOMAIN_RULE = (
    "must be a DNS subdomain, as Kubernetes requires: at most 253 lowercase letters, digits, '-' or '.', "
    "starting and ending with a letter or digit"
)
KIND_RULE = (
    "must be a Kubernetes kind: at most 63 letters, digits or '-', starting with a letter and ending with "
    "a letter or digit (e.g. Issuer, ClusterIssuer, AWSPCAClusterIssuer)"
)
# apimachinery's patterns, spelled as its validation messages quote them.
DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN, re.ASCII)
_NAME_PART = re.compile(QUALIFIED_NAME, re.ASCII)
_KIND = re.compile(r"[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?", re.ASCII)


def is_dns_subdomain(value: str) -> bool:
    """A DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' or '.'; labels start and end alphanumeric."""
    return len(value) <= 253 and _DNS_SUBDOMAIN.fullmatch(value) is not None


def is_name_part(value: str) -> bool:
    """The name part of a qualified name: 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric."""
    return len(value) <= 63 and _NAME_PART.fullmatch(value) is not None


def is_qualified_name(value: str) -> bool:
    """A qualified name (a label or annotation key, a condition type): `[<DNS subdomain>/]<name part>`."""
    prefix, slash, name = value.rpartition("/")
    return (not slash or is_dns_subdomain(prefix)) and is_name_part(name)


def dns_subdomain_problem(value: str) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (an object name, an API group), or None."""
    return None if is_dns_subdomain(value) else DNS_SUBDOMAIN_RULE


def kind_problem(value: str) -> str | None:
    """Why `value` cannot be a custom resource's kind, or None."""
    if len(value) > 63 or _KIND.fullmatch(value) is None:
        return KIND_RULE
    return None


def issuer_ref_problem(*, name: str, kind: str, group: str) -> tuple[str, str] | None:
    """The first of "name", "kind", "group" that no issuer could have, with the rule it breaks; or None.

    An empty group means cert-manager's, as in a CertificateRequest.
    """
    if (problem := dns_subdomain_problem(name)) is not None:
        return "name", problem
    if group and (problem := dns_subdomain_problem(group)) is not None:
        return "group", problem
    if group in ("", CERT_MANAGER_GROUP):
        if kind not in CERT_MANAGER_KINDS:
            return "kind", f'must be "Issuer" or "ClusterIssuer" for issuer group {CERT_MANAGER_GROUP}'
    elif (problem := kind_problem(kind)) is not None:
        return "kind", problem
    return None
