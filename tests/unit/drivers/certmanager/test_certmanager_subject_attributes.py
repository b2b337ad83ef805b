"""Subject: common name and subject fields (expanded, comma lists) or a literal RFC 4514 subject."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certcsi.drivers.certmanager.attributes import (
    COMMON_NAME,
    COUNTRIES,
    DNS_NAMES,
    LITERAL_SUBJECT,
    LOCALITIES,
    ORGANIZATIONAL_UNITS,
    ORGANIZATIONS,
    POSTAL_CODES,
    PROVINCES,
    SERIAL_NUMBER,
    STREET_ADDRESSES,
    CertAttributes,
)
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def test_common_name_is_expanded(parse: Parse) -> None:
    attrs = parse({COMMON_NAME: "${SERVICE_ACCOUNT_NAME}.${POD_NAMESPACE}"})
    assert attrs.common_name == "my-sa.sandbox"
    assert _values(attrs.subject, NameOID.COMMON_NAME) == ["my-sa.sandbox"]


def test_subject_fields_are_expanded_comma_lists_with_escapes(parse: Parse) -> None:
    attrs = parse(
        {
            ORGANIZATIONS: r"Acme\, Inc., ${POD_NAMESPACE}",
            ORGANIZATIONAL_UNITS: "platform",
            COUNTRIES: "GB,DE",
            PROVINCES: "Bavaria",
            LOCALITIES: "Munich",
            STREET_ADDRESSES: "1 Road",
            POSTAL_CODES: "80331",
            SERIAL_NUMBER: "$NOT_EXPANDED",
        }
    )
    assert attrs.organizations == ("Acme, Inc.", "sandbox")
    assert attrs.countries == ("GB", "DE")
    assert attrs.serial_number == "$NOT_EXPANDED"
    assert _values(attrs.subject, NameOID.ORGANIZATION_NAME) == ["Acme, Inc.", "sandbox"]
    assert _values(attrs.subject, NameOID.COUNTRY_NAME) == ["GB", "DE"]
    assert _values(attrs.subject, NameOID.STATE_OR_PROVINCE_NAME) == ["Bavaria"]
    assert _values(attrs.subject, NameOID.LOCALITY_NAME) == ["Munich"]
    assert _values(attrs.subject, NameOID.STREET_ADDRESS) == ["1 Road"]
    assert _values(attrs.subject, NameOID.POSTAL_CODE) == ["80331"]
    assert _values(attrs.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["platform"]
    assert _values(attrs.subject, NameOID.SERIAL_NUMBER) == ["$NOT_EXPANDED"]


def test_literal_subject_is_expanded_and_wins_over_the_fields(parse: Parse) -> None:
    attrs = parse(
        {
            LITERAL_SUBJECT: r"CN=${POD_NAME}.${POD_NAMESPACE},OU=0:a\;1:b,O=foo.bar.com",
            COMMON_NAME: "ignored",
            ORGANIZATIONS: "ignored too",
        }
    )
    assert attrs.literal_subject == r"CN=my-pod.sandbox,OU=0:a\;1:b,O=foo.bar.com"
    assert attrs.common_name == "my-pod.sandbox"
    assert _values(attrs.subject, NameOID.COMMON_NAME) == ["my-pod.sandbox"]
    assert _values(attrs.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["0:a;1:b"]
    assert _values(attrs.subject, NameOID.ORGANIZATION_NAME) == ["foo.bar.com"]


def test_a_literal_subject_cn_is_enough_without_sans(parse: Parse) -> None:
    attrs = parse({DNS_NAMES: None, LITERAL_SUBJECT: "CN=app,O=Acme"})
    assert attrs.common_name == "app"
    assert attrs.dns_names == ()


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        (LITERAL_SUBJECT, "CN=a,,O=b", "not an RFC 4514 subject"),
        (LITERAL_SUBJECT, "NOTATYPE=x", "not an RFC 4514 subject"),
        (LITERAL_SUBJECT, "${NOPE}", 'undefined variable "NOPE"'),
        (COMMON_NAME, "$Foo", 'undefined variable "Foo"'),
        (ORGANIZATIONS, "${X}", 'undefined variable "X"'),
        (COUNTRIES, "GBR", "not valid in a certificate subject"),
        (COMMON_NAME, "x" * 65, "not valid in a certificate subject"),
    ],
)
def test_bad_subject_values_name_their_attribute(reject: Reject, key: str, value: str, fragment: str) -> None:
    err = reject({key: value})
    assert err.attribute == key
    assert fragment in err.rule
