"""Certificate subjects: from csi-driver's subject attributes or from an RFC 4514 string."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

__all__ = ["build_subject", "parse_rfc4514", "split_list"]


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
        try:
            attributes.append(x509.NameAttribute(oid, value))
        except ValueError as exc:
            raise ValueError(f"subject {field} {value!r}: {exc}") from None
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
    ValueError names the field when a value breaks an X.509 rule (country not 2 letters, CN > 64).
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


def parse_rfc4514(text: str) -> x509.Name:
    """Parse an RFC 4514 subject ("CN=app,O=Acme\\, Inc.,C=GB"), most specific RDN first."""
    try:
        return x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise ValueError(
            f"invalid RFC 4514 subject {text!r}{detail} (want TYPE=value pairs separated by commas, "
            "e.g. CN=app,O=Acme,C=GB)"
        ) from None
