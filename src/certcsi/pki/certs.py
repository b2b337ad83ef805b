"""Reading what cert-manager issued: the PEM chain, the leaf's validity, whether it fits our key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certcsi.pki.keys import PrivateKey

__all__ = [
    "Validity",
    "certificate_pem",
    "chain_pem",
    "key_matches_certificate",
    "leaf_validity",
    "parse_pem_chain",
]

_CERT_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Validity:
    """A certificate's validity window, as timezone-aware UTC datetimes."""

    not_before: datetime
    not_after: datetime


def parse_pem_chain(pem: bytes) -> list[x509.Certificate]:
    """Every CERTIFICATE block of `pem`, in order (leaf first); ValueError when there is none."""
    if _CERT_PEM_MARKER not in pem:
        raise ValueError('failed to decode PEM certificate chain: no "CERTIFICATE" PEM block found')
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ValueError('failed to decode PEM certificate chain: malformed "CERTIFICATE" PEM block') from None
    return certs


def leaf_validity(pem: bytes) -> Validity:
    """The validity window of the first certificate in `pem`."""
    leaf = parse_pem_chain(pem)[0]
    return Validity(not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc)


def _spki(key: object) -> bytes | None:
    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        return None
    spki: bytes = public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return spki


def key_matches_certificate(key: PrivateKey, cert: x509.Certificate) -> bool:
    """True when `cert` certifies the public half of `key`."""
    try:
        cert_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    return _spki(cert_key) == _spki(key.public_key())


def certificate_pem(cert: x509.Certificate) -> bytes:
    """One certificate as a PEM block."""
    return cert.public_bytes(Encoding.PEM)


def chain_pem(certs: Sequence[x509.Certificate]) -> bytes:
    """Certificates as concatenated PEM blocks, in the given order."""
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)
