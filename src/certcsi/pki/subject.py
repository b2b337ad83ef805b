"""Certificate subjects: from csi-driver's subject attributes or from an RFC 4514 string.

Every value is checked against the ASN.1 string type `cryptography` encodes its attribute as and
the upper bound RFC 5280 (or X.520) gives it, so a bad value is a ValueError naming the attribute
and the rule here instead of an encoding error when the CSR is signed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certcsi.errors import quoted

__all__ = ["build_subject", "check_name_attribute", "parse_rfc4514", "split_list"]


@dataclass(frozen=True)
class _StringRule:
    """An attribute's name, the ASN.1 string type of its value and its size bounds (in characters)."""

    name: str
    string_type: str = "UTF8String"  # or "PrintableString" or "IA5String"
    max_length: int | None = None
    exact_length: int | None = None
    # cryptography limits the common name in UTF-8 bytes, not characters: follow it.
    bytes_bound: bool = False


# Types as cryptography's NameAttribute picks them (countryName, serialNumber and dnQualifier are
# PrintableString, emailAddress and domainComponent IA5String, anything else UTF8String); bounds
# from RFC 5280's ub-* values, or X.520's for streetAddress and postalCode.
_RULES: dict[ObjectIdentifier, _StringRule] = {
    NameOID.COUNTRY_NAME: _StringRule("countryName", "PrintableString", exact_length=2),
    NameOID.JURISDICTION_COUNTRY_NAME: _StringRule("jurisdictionCountryName", "PrintableString", exact_length=2),
    NameOID.SERIAL_NUMBER: _StringRule("serialNumber", "PrintableString", max_length=64),
    NameOID.DN_QUALIFIER: _StringRule("dnQualifier", "PrintableString"),
    NameOID.EMAIL_ADDRESS: _StringRule("emailAddress", "IA5String", max_length=255),
    NameOID.DOMAIN_COMPONENT: _StringRule("domainComponent", "IA5String"),
    NameOID.COMMON_NAME: _StringRule("commonName", max_length=64, bytes_bound=True),
    NameOID.ORGANIZATION_NAME: _StringRule("organizationName", max_length=64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: _StringRule("organizationalUnitName", max_length=64),
    NameOID.TITLE: _StringRule("title", max_length=64),
    NameOID.LOCALITY_NAME: _StringRule("localityName", max_length=128),
    NameOID.STATE_OR_PROVINCE_NAME: _StringRule("stateOrProvinceName", max_length=128),
    NameOID.STREET_ADDRESS: _StringRule("streetAddress", max_length=128),
    NameOID.POSTAL_CODE: _StringRule("postalCode", max_length=40),
    NameOID.PSEUDONYM: _StringRule("pseudonym", max_length=128),
    NameOID.BUSINESS_CATEGORY: _StringRule("businessCategory", max_length=128),
    NameOID.SURNAME: _StringRule("surname", max_length=32768),
    NameOID.GIVEN_NAME: _StringRule("givenName", max_length=32768),
    NameOID.INITIALS: _StringRule("initials", max_length=32768),
    NameOID.GENERATION_QUALIFIER: _StringRule("generationQualifier", max_length=32768),
}
# X.680's PrintableString alphabet.
_NOT_PRINTABLE = re.compile(r"[^A-Za-z0-9 '()+,\-./:=?]")
_NOT_IA5 = re.compile(r"[^\x00-\x7f]")
_ALPHABETS = {
    "PrintableString": "letters, digits, space and ' ( ) + , - . / : = ? only",
    "IA5String": "ASCII characters only",
}


def check_name_attribute(oid: ObjectIdentifier, value: str) -> str | None:
    """Why `value` cannot be the value of subject attribute `oid` (the rule it breaks), or None."""
    rule = _RULES.get(oid) or _StringRule(oid.dotted_string)
    if value == "":
        return "must not be empty"
    bad = None
    if rule.string_type == "PrintableString":
        bad = _NOT_PRINTABLE.search(value)
    elif rule.string_type == "IA5String":
        bad = _NOT_IA5.search(value)
    if bad is not None:
        return (
            f"must be a {rule.string_type} ({_ALPHABETS[rule.string_type]}, RFC 5280); {bad.group()!r} is not allowed"
        )
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be a UTF8String: it holds a lone surrogate, which UTF-8 cannot encode"
    size = len(encoded) if rule.bytes_bound else len(value)
    unit = "bytes of UTF-8" if rule.bytes_bound else "characters"
    if rule.exact_length is not None and size != rule.exact_length:
        return f"must be exactly {rule.exact_length} characters (an ISO 3166 country code), not {size}"
    if rule.max_length is not None and size > rule.max_length:
        return f"must be at most {rule.max_length} {unit} (RFC 5280 upper bound), not {size}"
    return None


def _unescape(piece: str) -> str:
    r"""`\,` → `,` and `\\` → `\`; any other backslash is kept as written."""
    out: list[str] = []
    i = 0
    while i < len(piece):
        if piece[i] == "\\" and i + 1 < len(piece) and piece[i + 1] in ",\\":
            out.append(piece[i + 1])
            i += 2
        else:
            out.append(piece[i])
            i += 1
    return "".join(out)


def split_list(text: str) -> list[str]:
    r"""Split a comma-separated attribute value; `\,` is a literal comma, `\\` a backslash.

    Each value is trimmed of surrounding whitespace and empty values are dropped:
    `"Acme\, Inc., Widgets ,"` → `["Acme, Inc.", "Widgets"]`.
    """
    pieces: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2  # the escaped character can never end a value
            continue
        if text[i] == ",":
            pieces.append(text[start:i])
            start = i + 1
        i += 1
    pieces.append(text[start:])
    values = (_unescape(piece.strip()) for piece in pieces)
    return [value for value in values if value]


def _attributes(field: str, oid: ObjectIdentifier, values: Iterable[str]) -> list[x509.NameAttribute[str]]:
    attributes = []
    for value in values:
        problem = check_name_attribute(oid, value)
        if problem is not None:
            raise ValueError(f"subject {field} {quoted(value)}: {problem}")
        attributes.append(x509.NameAttribute(oid, value))
    return attributes


def build_subject(
    *,
    common_name: str | None = None,
    organizations: Iterable[str] = (),
    organizational_units: Iterable[str] = (),
    countries: Iterable[str] = (),
    provinces: Iterable[str] = (),
    localities: Iterable[str] = (),
    street_addresses: Iterable[str] = (),
    postal_codes: Iterable[str] = (),
    serial_number: str | None = None,
) -> x509.Name:
    """A subject in Go's pkix.Name order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER).

    One attribute per RDN (Go groups repeated values into one multi-valued RDN; single-valued
    RDNs read the same to issuers and are friendlier to tools). Empty CN/serial number are omitted.
    ValueError names the field when a value breaks its string type or bound (country not 2 letters,
    CN > 64 bytes, `_` in a serial number).
    """
    attributes = [
        *_attributes("countries", NameOID.COUNTRY_NAME, countries),
        *_attributes("provinces", NameOID.STATE_OR_PROVINCE_NAME, provinces),
        *_attributes("localities", NameOID.LOCALITY_NAME, localities),
        *_attributes("street addresses", NameOID.STREET_ADDRESS, street_addresses),
        *_attributes("postal codes", NameOID.POSTAL_CODE, postal_codes),
        *_attributes("organizations", NameOID.ORGANIZATION_NAME, organizations),
        *_attributes("organizational units", NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_units),
        *_attributes("common name", NameOID.COMMON_NAME, [common_name] if common_name else []),
        *_attributes("serial number", NameOID.SERIAL_NUMBER, [serial_number] if serial_number else []),
    ]
    return x509.Name(attributes)


# cert-manager also reads SERIALNUMBER (Go's pkix name for it), which cryptography does not know.
_UPSTREAM_NAMES = {"SERIALNUMBER": NameOID.SERIAL_NUMBER}


def parse_rfc4514(text: str) -> x509.Name:
    """Parse an RFC 4514 subject ("CN=app,O=Acme\\, Inc.,C=GB"), most specific RDN first.

    ValueError "invalid RFC 4514 subject ..." for bad syntax, "subject attribute <name> ..." for a
    value its attribute's string type or bound does not allow.
    """
    try:
        name = x509.Name.from_rfc4514_string(text, _UPSTREAM_NAMES)
    except ValueError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise ValueError(
            f"invalid RFC 4514 subject {quoted(text)}{detail} (want TYPE=value pairs separated by commas, "
            "e.g. CN=app,O=Acme,C=GB)"
        ) from None
    for attribute in name:
        value = attribute.value
        problem = check_name_attribute(attribute.oid, value) if isinstance(value, str) else None
        if problem is not None:
            described = _RULES[attribute.oid].name if attribute.oid in _RULES else attribute.rfc4514_attribute_name
            raise ValueError(f"subject attribute {described} {quoted(str(value))}: {problem}")
    return name
