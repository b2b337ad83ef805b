"""Subject values are checked against the ASN.1 string type they are encoded as, and RFC 5280's bounds.

What passes the check must encode into a CSR; what does not is a ValueError naming the field and
the rule, never a crash at signing time.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.subject import build_subject, parse_rfc4514

FIELDS = (
    "common_name",
    "organizations",
    "organizational_units",
    "countries",
    "provinces",
    "localities",
    "street_addresses",
    "postal_codes",
    "serial_number",
)
SINGLE = {"common_name", "serial_number"}


def _build(field: str, value: str) -> None:
    build_subject(**{field: value if field in SINGLE else [value]})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "fragments"),
    [
        ("serial_number", "abc_123", ("serial number", "PrintableString", "'_'")),
        ("serial_number", "é", ("serial number", "PrintableString", "'é'")),
        ("serial_number", ";", ("serial number", "PrintableString", "';'")),
        ("serial_number", "$X", ("serial number", "PrintableString", "'$'")),
        ("countries", "U@", ("countries", "PrintableString", "'@'")),
        ("countries", "D", ("countries", "2 characters")),
        ("serial_number", "1" * 65, ("serial number", "at most 64")),
        ("organizations", "o" * 65, ("organizations", "at most 64")),
        ("organizational_units", "u" * 65, ("organizational units", "at most 64")),
        ("provinces", "p" * 129, ("provinces", "at most 128")),
        ("localities", "l" * 129, ("localities", "at most 128")),
        ("street_addresses", "s" * 129, ("street addresses", "at most 128")),
        ("postal_codes", "9" * 41, ("postal codes", "at most 40")),
        ("common_name", "c" * 65, ("common name", "at most 64")),
        ("organizations", "bad\ud800surrogate", ("organizations", "UTF8String")),
    ],
)
def test_a_value_its_string_type_cannot_hold_is_named(field: str, value: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as info:
        _build(field, value)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serial_number", "AB-12 (x)+/:=?.,'"),
        ("countries", "DE"),
        ("organizations", "Zürich Ünïcødé ☃ GmbH"),
        ("localities", "l" * 128),
        ("common_name", "c" * 64),
        ("postal_codes", "9" * 40),
    ],
)
def test_values_within_their_type_and_bound_encode(ec_key: ec.EllipticCurvePrivateKey, field: str, value: str) -> None:
    subject = build_subject(**{field: value if field in SINGLE else [value]})  # type: ignore[arg-type]
    assert build_csr(ec_key, CsrSpec(subject=subject)).startswith(b"-----BEGIN CERTIFICATE REQUEST-----")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("SERIALNUMBER=abc_123", ("serialNumber", "PrintableString", "'_'")),
        ("2.5.4.5=é", ("serialNumber", "PrintableString")),
        ("C=U@", ("countryName", "PrintableString", "'@'")),
        ("DC=é", ("domainComponent", "IA5String", "'é'")),
        ("1.2.840.113549.1.9.1=é@x", ("emailAddress", "IA5String")),
        ("O=" + "o" * 65, ("organizationName", "at most 64")),
        ("CN=app,O=", ("organizationName", "must not be empty")),
    ],
)
def test_literal_subject_values_are_checked_the_same_way(text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as info:
        parse_rfc4514(text)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_long_rejected_value_is_not_echoed_whole() -> None:
    with pytest.raises(ValueError) as info:
        _build("serial_number", "_" * 70_000)
    assert len(str(info.value)) < 500


subject_text = st.text(st.characters(codec="utf-8"), max_size=70) | st.sampled_from(["_", "é", "U@", ";", "GB", ""])


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), value=subject_text)
def test_whatever_the_check_accepts_encodes(ec_key: ec.EllipticCurvePrivateKey, field: str, value: str) -> None:
    try:
        subject = build_subject(**{field: value if field in SINGLE else [value]})  # type: ignore[arg-type]
    except ValueError:
        return
    build_csr(ec_key, CsrSpec(subject=subject))


attribute_types = st.sampled_from(["CN", "O", "OU", "C", "L", "ST", "STREET", "DC", "UID", "2.5.4.5", "1.2.3.4"])


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(attribute_types, subject_text), min_size=1, max_size=3))
def test_whatever_a_literal_subject_check_accepts_encodes(
    ec_key: ec.EllipticCurvePrivateKey, pairs: list[tuple[str, str]]
) -> None:
    text = ",".join(f"{kind}={value}" for kind, value in pairs)
    try:
        subject = parse_rfc4514(text)
    except ValueError:
        return
    build_csr(ec_key, CsrSpec(subject=subject))
