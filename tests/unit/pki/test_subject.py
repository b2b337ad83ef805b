"""Subject names: escaped comma lists, csi-driver's subject attributes, RFC 4514 strings."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certcsi.pki.subject import build_subject, parse_rfc4514, split_list


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        (" a , b ,, ", ["a", "b"]),
        (",,,", []),
        (r"Acme\, Inc.,Widgets", ["Acme, Inc.", "Widgets"]),
        (r"Acme\, Inc.", ["Acme, Inc."]),
        (r"\,lead", [",lead"]),
        (r"trail\,", ["trail,"]),
        (r"a\\,b", ["a\\", "b"]),
        (r"a\\\,b", ["a\\,b"]),
        (r"a\b", ["a\\b"]),
        ("dangling\\", ["dangling\\"]),
        (r"x \, y , z", ["x , y", "z"]),
    ],
)
def test_split_list(text: str, expected: list[str]) -> None:
    assert split_list(text) == expected


def test_build_subject_empty() -> None:
    assert build_subject() == x509.Name([])
    assert build_subject(common_name="", serial_number="") == x509.Name([])


def test_build_subject_go_order_one_value_per_rdn() -> None:
    name = build_subject(
        common_name="app",
        organizations=["Acme, Inc.", "Widgets"],
        organizational_units=["Ops"],
        countries=["GB"],
        provinces=["Kent"],
        localities=["Canterbury"],
        street_addresses=["1 High St"],
        postal_codes=["CT1 1AA"],
        serial_number="1234",
    )
    assert [(a.oid, a.value) for a in name] == [
        (NameOID.COUNTRY_NAME, "GB"),
        (NameOID.STATE_OR_PROVINCE_NAME, "Kent"),
        (NameOID.LOCALITY_NAME, "Canterbury"),
        (NameOID.STREET_ADDRESS, "1 High St"),
        (NameOID.POSTAL_CODE, "CT1 1AA"),
        (NameOID.ORGANIZATION_NAME, "Acme, Inc."),
        (NameOID.ORGANIZATION_NAME, "Widgets"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
        (NameOID.COMMON_NAME, "app"),
        (NameOID.SERIAL_NUMBER, "1234"),
    ]
    assert all(len(rdn) == 1 for rdn in name.rdns)


def test_build_subject_rfc4514_rendering_escapes_commas() -> None:
    name = build_subject(common_name="app", organizations=["Acme, Inc."], countries=["GB"])
    assert name.rfc4514_string() == r"CN=app,O=Acme\, Inc.,C=GB"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"countries": ["GBR"]}, "countries"),
        ({"countries": [""]}, "countries"),
        ({"common_name": "x" * 65}, "common name"),
    ],
)
def test_build_subject_names_the_broken_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^subject {field} "):
        build_subject(**kwargs)  # type: ignore[arg-type]


def test_parse_rfc4514_order_and_escapes() -> None:
    name = parse_rfc4514(r"CN=app,OU=Ops,O=Acme\, Inc.,C=GB")
    # RFC 4514 writes the most specific RDN first; the DER sequence starts at the root.
    assert [(a.oid, a.value) for a in name] == [
        (NameOID.COUNTRY_NAME, "GB"),
        (NameOID.ORGANIZATION_NAME, "Acme, Inc."),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
        (NameOID.COMMON_NAME, "app"),
    ]


def test_parse_rfc4514_multi_valued_rdn() -> None:
    name = parse_rfc4514("CN=app,O=Acme+OU=Ops")
    assert len(name.rdns) == 2
    assert len(name.rdns[0]) == 2


def test_parse_rfc4514_dotted_oid() -> None:
    name = parse_rfc4514("2.5.4.3=app")
    assert name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "app"


@pytest.mark.parametrize("text", ["garbage", "FOO=bar", "CN=a,,O=b"])
def test_parse_rfc4514_invalid_is_clear(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid RFC 4514 subject") as excinfo:
        parse_rfc4514(text)
    assert repr(text) in str(excinfo.value)
    assert "CN=app,O=Acme,C=GB" in str(excinfo.value)
