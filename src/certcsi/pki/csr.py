"""Certificate signing requests: build one signed by the node-held key, or decode one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.pki.keys import PrivateKey, signature_hash
from certcsi.pki.usages import extended_key_usage_extension, key_usage_extension

__all__ = ["CsrSpec", "build_csr", "load_csr", "san_extension"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_EMPTY_NAME = x509.Name([])
_CSR_PEM_MARKER = b"-----BEGIN CERTIFICATE REQUEST-----"


@dataclass(frozen=True)
class CsrSpec:
    """What the CSR asks for; usages and is_ca become extension requests only when set."""

    subject: x509.Name = _EMPTY_NAME
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()
    uris: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    usages: tuple[str, ...] = ()
    is_ca: bool = False


def san_extension(
    *,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[IPAddress, ...] = (),
    uris: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
) -> x509.SubjectAlternativeName | None:
    """The SubjectAlternativeName for these names, in Go's order (DNS, email, IP, URI); None if empty."""
    names: list[x509.GeneralName] = [
        *(x509.DNSName(name) for name in dns_names),
        *(x509.RFC822Name(email) for email in emails),
        *(x509.IPAddress(ip) for ip in ip_addresses),
        *(x509.UniformResourceIdentifier(uri) for uri in uris),
    ]
    return x509.SubjectAlternativeName(names) if names else None


def build_csr(key: PrivateKey, spec: CsrSpec) -> bytes:
    """A PEM CSR for `spec`, signed by `key`.

    The SAN extension is critical when the subject is empty (RFC 5280 §4.2.1.6; AWS Private CA
    rejects anything else). KeyUsage and BasicConstraints are requested critical and
    ExtendedKeyUsage not, as cert-manager encodes them.
    """
    builder = x509.CertificateSigningRequestBuilder().subject_name(spec.subject)
    sans = san_extension(dns_names=spec.dns_names, ip_addresses=spec.ip_addresses, uris=spec.uris, emails=spec.emails)
    if sans is not None:
        builder = builder.add_extension(sans, critical=len(spec.subject) == 0)
    key_usage = key_usage_extension(spec.usages)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    ext_key_usage = extended_key_usage_extension(spec.usages)
    if ext_key_usage is not None:
        builder = builder.add_extension(ext_key_usage, critical=False)
    if spec.is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    csr = builder.sign(key, signature_hash(key))
    return csr.public_bytes(Encoding.PEM)


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """Decode a PEM CSR; ValueError "failed to decode CSR: ..." on anything else.

    The signature is not checked here: see `CertificateSigningRequest.is_signature_valid`.
    """
    if _CSR_PEM_MARKER not in pem:
        raise ValueError('failed to decode CSR: no "CERTIFICATE REQUEST" PEM block found')
    try:
        return x509.load_pem_x509_csr(pem)
    except (ValueError, x509.InvalidVersion):  # InvalidVersion is not a ValueError
        raise ValueError('failed to decode CSR: malformed "CERTIFICATE REQUEST" PEM block') from None
