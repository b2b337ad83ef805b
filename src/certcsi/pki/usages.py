"""cert-manager usage strings (`spec.usages`) ↔ X.509 KeyUsage / ExtendedKeyUsage extensions.

The mapping is cert-manager's: "signing" and "digital signature" are the same bit, "s/mime" and
"email protection" the same OID. `usages_of` answers with the canonical (second) spelling.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certcsi.errors import quoted_items

__all__ = [
    "ALL_USAGES",
    "DEFAULT_USAGES",
    "extended_key_usage_extension",
    "key_usage_extension",
    "split_usages",
    "usages_of",
]

# KeyUsage usages, by the keyword argument of x509.KeyUsage they set.
_KEY_USAGE_FIELDS: dict[str, str] = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}

_EXT_KEY_USAGE_OIDS: dict[str, ObjectIdentifier] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": ObjectIdentifier("2.16.840.1.113730.4.1"),
}

# In the order of the CRD's enum.
ALL_USAGES: tuple[str, ...] = (*_KEY_USAGE_FIELDS, *_EXT_KEY_USAGE_OIDS)

DEFAULT_USAGES: tuple[str, ...] = ("digital signature", "key encipherment")

_ALIASES = {"signing": "digital signature", "s/mime": "email protection"}
_CANONICAL_FIELD_NAMES = {field: usage for usage, field in _KEY_USAGE_FIELDS.items() if usage not in _ALIASES}
_CANONICAL_OID_NAMES = {oid: usage for usage, oid in _EXT_KEY_USAGE_OIDS.items() if usage not in _ALIASES}


def _check_known(usages: Iterable[str]) -> list[str]:
    listed = list(usages)
    unknown = [u for u in listed if u not in _KEY_USAGE_FIELDS and u not in _EXT_KEY_USAGE_OIDS]
    if unknown:
        raise ValueError(f"unknown key usage(s) {quoted_items(unknown)}; valid usages are {list(ALL_USAGES)}")
    return listed


def split_usages(text: str) -> tuple[str, ...]:
    """A comma-separated `key-usages` attribute as validated usage strings (trimmed, empties dropped)."""
    return tuple(_check_known(part.strip() for part in text.split(",") if part.strip()))


def key_usage_extension(usages: Iterable[str]) -> x509.KeyUsage | None:
    """The KeyUsage extension for the key-usage members of `usages`; None when there are none.

    Extended usages in `usages` are skipped here (see `extended_key_usage_extension`); an unknown
    string raises ValueError naming it. "encipher only"/"decipher only" need "key agreement"
    (RFC 5280 gives them no meaning without it).
    """
    fields = {_KEY_USAGE_FIELDS[u] for u in _check_known(usages) if u in _KEY_USAGE_FIELDS}
    if not fields:
        return None
    if fields & {"encipher_only", "decipher_only"} and "key_agreement" not in fields:
        raise ValueError('key usages "encipher only" and "decipher only" require "key agreement"')
    return x509.KeyUsage(**{field: field in fields for field in set(_KEY_USAGE_FIELDS.values())})


def extended_key_usage_extension(usages: Iterable[str]) -> x509.ExtendedKeyUsage | None:
    """The ExtendedKeyUsage extension for the extended members of `usages`; None when there are none.

    OIDs keep the order of first mention and appear once ("s/mime" and "email protection" share one).
    """
    oids: dict[ObjectIdentifier, None] = {}
    for usage in _check_known(usages):
        oid = _EXT_KEY_USAGE_OIDS.get(usage)
        if oid is not None:
            oids[oid] = None
    return x509.ExtendedKeyUsage(list(oids)) if oids else None


def usages_of(ku: x509.KeyUsage | None, eku: x509.ExtendedKeyUsage | None) -> frozenset[str]:
    """The canonical usage strings that `ku` and `eku` grant.

    An EKU OID cert-manager has no name for is returned as its dotted string, so comparing the
    result with a set of allowed usages can never silently accept it.
    """
    names: set[str] = set()
    if ku is not None:
        for field, usage in _CANONICAL_FIELD_NAMES.items():
            # cryptography refuses to read encipher_only/decipher_only unless key_agreement is set.
            if field in {"encipher_only", "decipher_only"} and not ku.key_agreement:
                continue
            if getattr(ku, field):
                names.add(usage)
    if eku is not None:
        for oid in eku:
            names.add(_CANONICAL_OID_NAMES.get(oid, oid.dotted_string))
    return frozenset(names)
