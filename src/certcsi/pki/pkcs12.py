"""PKCS#12 keystores that old Java (keytool, JDK 8) and OpenSSL 1.x/3.x can all open.

The legacy algorithms (PBES1 SHA-1 + 3-key Triple-DES, HMAC-SHA1) match what the Go csi-driver
writes; newer AES/PBES2 stores are rejected by JDKs before 8u301. The password never appears in
an error message.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certcsi.pki.certs import key_matches_certificate
from certcsi.pki.keys import PrivateKey

__all__ = ["encode_pkcs12"]

# OpenSSL's long-standing default iteration count for legacy PKCS#12.
_KDF_ROUNDS = 2048


def encode_pkcs12(
    *,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    password: bytes,
    friendly_name: bytes | None = None,
) -> bytes:
    """A DER PKCS#12 holding `key`, the leaf `chain[0]` and the rest of `chain` as CA certificates."""
    if not chain:
        raise ValueError("PKCS#12: the certificate chain is empty")
    if not password:
        raise ValueError("PKCS#12: the password must not be empty")
    if not key_matches_certificate(key, chain[0]):
        raise ValueError("PKCS#12: the private key does not match the leaf certificate")
    try:
        encryption = (
            PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password)
        )
        return pkcs12.serialize_key_and_certificates(
            name=friendly_name,
            key=key,
            cert=chain[0],
            cas=list(chain[1:]) or None,
            encryption_algorithm=encryption,
        )
    except (ValueError, TypeError) as exc:
        # `from None`, and only the exception type: the password must not leak through a message.
        raise ValueError(f"PKCS#12: encoding failed ({type(exc).__name__})") from None
