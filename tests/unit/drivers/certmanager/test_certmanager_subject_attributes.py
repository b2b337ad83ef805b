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
            SERIAL_NUMBER: "SN-1234 (A)",
        }
    )
    assert attrs.organizations == ("Acme, Inc.", "sandbox")
    assert attrs.countries == ("GB", "DE")
    assert attrs.serial_number == "SN-1234 (A)"
    assert _values(attrs.subject, NameOID.ORGANIZATION_NAME) == ["Acme, Inc.", "sandbox"]
    assert _values(attrs.subject, NameOID.COUNTRY_NAME) == ["GB", "DE"]
    assert _values(attrs.subject, NameOID.STATE_OR_PROVINCE_NAME) == ["Bavaria"]
    assert _values(attrs.subject, NameOID.LOCALITY_NAME) == ["Munich"]
    assert _values(attrs.subject, NameOID.STREET_ADDRESS) == ["1 Road"]
    assert _values(attrs.subject, NameOID.POSTAL_CODE) == ["80331"]
    assert _values(attrs.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["platform"]
    assert _values(attrs.subject, NameOID.SERIAL_NUMBER) == ["SN-1234 (A)"]


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
        (LITERAL_SUBJECT, "CN=a,,O=b", "invalid RFC 4514 subject"),
        (LITERAL_SUBJECT, "NOTATYPE=x", "invalid RFC 4514 subject"),
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


def test_serial_number_is_not_expanded(reject: Reject) -> None:
    # Expanded, ${POD_NAME} would be the valid "my-pod"; as written, '$' is not a PrintableString character.
    err = reject({SERIAL_NUMBER: "${POD_NAME}"})
    assert err.attribute == SERIAL_NUMBER
    assert "'$' is not allowed" in err.rule


@pytest.mark.parametrize(
    ("key", "value", "fragments"),
    [
        (SERIAL_NUMBER, "abc_123", ("PrintableString", "'_'")),
        (SERIAL_NUMBER, "é", ("PrintableString", "'é'")),
        (SERIAL_NUMBER, ";", ("PrintableString", "';'")),
        (COUNTRIES, "DE,U@", ("PrintableString", "'@'")),
        (POSTAL_CODES, "9" * 41, ("at most 40",)),
        (LITERAL_SUBJECT, "CN=app,SERIALNUMBER=abc_123", ("serialNumber", "PrintableString")),
        (LITERAL_SUBJECT, "CN=app,C=U@", ("countryName", "'@'")),
        (LITERAL_SUBJECT, "CN=app,DC=é", ("domainComponent", "IA5String")),
    ],
)
def test_values_their_asn1_string_type_cannot_hold_are_rejected_up_front(
    reject: Reject, key: str, value: str, fragments: tuple[str, ...]
) -> None:
    err = reject({key: value})
    assert err.attribute == key
    for fragment in fragments:
        assert fragment in err.rule


def test_literal_subject_takes_upstreams_serialnumber_keyword(parse: Parse) -> None:
    attrs = parse({LITERAL_SUBJECT: "CN=app,SERIALNUMBER=42"})
    assert _values(attrs.subject, NameOID.SERIAL_NUMBER) == ["42"]
