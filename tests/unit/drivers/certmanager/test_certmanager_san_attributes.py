"""DNS, URI, IP and email SANs: parsing, expansion, per-entry rules, and the "names something" rule."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import (
    COMMON_NAME,
    DNS_NAMES,
    EMAIL_SANS,
    IP_SANS,
    URI_SANS,
    CertAttributes,
)
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


def test_dns_names_are_expanded_trimmed_and_deduplicated(parse: Parse) -> None:
    attrs = parse({DNS_NAMES: "${POD_NAME}-x-$POD_UID,$POD_NAME,\n  ${POD_NAME}.${POD_NAMESPACE}, ,$POD_NAME,"})
    assert attrs.dns_names == ("my-pod-x-0b6c-uid", "my-pod", "my-pod.sandbox")


def test_uris_are_expanded_and_absolute(parse: Parse) -> None:
    attrs = parse({URI_SANS: "spiffe://cluster.local/ns/${POD_NAMESPACE}/pod/${POD_NAME},  file://foo-bar"})
    assert attrs.uris == ("spiffe://cluster.local/ns/sandbox/pod/my-pod", "file://foo-bar")


def test_ip_sans_parse_v4_v6_and_unmap_v4_in_v6(parse: Parse) -> None:
    attrs = parse({IP_SANS: "1.2.3.4,\n \t ::1, ::ffff:10.0.0.1"})
    assert attrs.ip_addresses == (
        ipaddress.IPv4Address("1.2.3.4"),
        ipaddress.IPv6Address("::1"),
        ipaddress.IPv4Address("10.0.0.1"),
    )


def test_email_sans_are_expanded(parse: Parse) -> None:
    attrs = parse({EMAIL_SANS: "${SERVICE_ACCOUNT_NAME}@example.com, ops+tls@example.org"})
    assert attrs.emails == ("my-sa@example.com", "ops+tls@example.org")


@pytest.mark.parametrize(
    "only", [{IP_SANS: "10.0.0.1"}, {URI_SANS: "spiffe://td/x"}, {EMAIL_SANS: "a@b.c"}, {COMMON_NAME: "app"}]
)
def test_any_one_name_is_enough(parse: Parse, only: dict[str, str]) -> None:
    parse({DNS_NAMES: None, **only})


@pytest.mark.parametrize(
    "overrides",
    [{DNS_NAMES: None}, {DNS_NAMES: " , "}, {DNS_NAMES: None, COMMON_NAME: "${}"}],  # ${} expands to ""
)
def test_a_certificate_must_name_something(reject: Reject, overrides: dict[str, str | None]) -> None:
    err = reject(overrides)
    assert err.attribute == DNS_NAMES
    assert "at least one of dns-names, ip-sans, uri-sans, email-sans or common-name" in err.rule


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        (IP_SANS, "foo", 'failed to parse IP address "foo"'),
        (IP_SANS, "1.2.3.4,300.1.1.1", 'failed to parse IP address "300.1.1.1"'),
        (IP_SANS, "fe80::1%eth0", "failed to parse IP address"),
        (IP_SANS, "01.2.3.4", "failed to parse IP address"),
        (URI_SANS, "x", "absolute URI starting with a scheme"),
        (URI_SANS, "1234", "absolute URI starting with a scheme"),
        (URI_SANS, "/just/a/path", "absolute URI starting with a scheme"),
        (URI_SANS, "foo://foo\nbar", "without spaces or control characters"),
        (URI_SANS, "spiffe://td/a%zz", "'%' not followed by two hex digits"),
        (URI_SANS, "foo,$Foo", 'undefined variable "Foo"'),
        (DNS_NAMES, "foo,$Foo", 'undefined variable "Foo"'),
        (DNS_NAMES, "bücher.example", "xn--"),
        (DNS_NAMES, "a b.example", "without spaces"),
        (EMAIL_SANS, "no-at.example.com", "exactly one '@'"),
        (EMAIL_SANS, "a@b@c", "exactly one '@'"),
        (EMAIL_SANS, "@example.com", "exactly one '@'"),
        (EMAIL_SANS, "user@", "exactly one '@'"),
        (EMAIL_SANS, "Ann <a@b.c>", "plain ASCII address"),
        (EMAIL_SANS, "<a@b.c>", "plain ASCII address"),
        (EMAIL_SANS, '"a b"@c.d', "plain ASCII address"),
        (EMAIL_SANS, "a@[10.0.0.1]", "plain ASCII address"),
        (EMAIL_SANS, "a@b..c", "plain ASCII address"),
        (EMAIL_SANS, "ünï@b.c", "plain ASCII address"),
    ],
)
def test_bad_entries_name_attribute_and_rule(reject: Reject, key: str, value: str, fragment: str) -> None:
    err = reject({key: value})
    assert err.attribute == key
    assert fragment in err.rule
