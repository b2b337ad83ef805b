"""A minimal CA that signs CSRs the way cert-manager's CA issuer does.

Used by the sandbox's cert-manager stand-in (and its API serving certificate) and by tests. It
runs a thousand times per benchmark, so `sign_csr` parses nothing twice and caches per-CA work.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import NameOID

from certcsi.pki.certs import certificate_pem, chain_pem
from certcsi.pki.csr import san_extension
from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key, signature_hash
from certcsi.pki.usages import DEFAULT_USAGES, extended_key_usage_extension, key_usage_extension

__all__ = [
    "DEFAULT_CA_VALIDITY",
    "certificate_pem",
    "chain_pem",
    "create_ca",
    "issue_serving_certificate",
    "random_serial",
    "sign_csr",
]

DEFAULT_CA_VALIDITY = timedelta(days=3650)
_EARLIEST_START = datetime(1950, 1, 1, tzinfo=UTC)


def random_serial() -> int:
    """A random positive serial below 2**128, as cert-manager draws them (never 0)."""
    return secrets.randbelow((1 << 128) - 1) + 1


def _utc(now: datetime | None) -> datetime:
    """`now` in UTC (naive means UTC), truncated to the second X.509 can express."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(microsecond=0)


@functools.lru_cache(maxsize=64)
def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


@functools.lru_cache(maxsize=64)
def _issuer_facts(
    ca_cert: x509.Certificate,
) -> tuple[x509.Name, datetime, x509.Extension[x509.AuthorityKeyIdentifier]]:
    """What every leaf of one CA takes from it: its subject, its expiry and the authority key id."""
    aki = _authority_key_identifier(ca_cert)
    return ca_cert.subject, ca_cert.not_valid_after_utc, x509.Extension(aki.oid, False, aki)


@functools.lru_cache(maxsize=256)
def _usage_extensions(usages: tuple[str, ...]) -> tuple[x509.Extension[x509.ExtensionType], ...]:
    """KeyUsage (critical) and ExtendedKeyUsage for `usages`, those that apply; a handful of usage
    lists recur on every request. ValueError for an unknown usage (never kept)."""
    found: list[x509.Extension[x509.ExtensionType]] = []
    key_usage = key_usage_extension(usages)
    if key_usage is not None:
        found.append(x509.Extension(x509.KeyUsage.oid, True, key_usage))
    ext_key_usage = extended_key_usage_extension(usages)
    if ext_key_usage is not None:
        found.append(x509.Extension(x509.ExtendedKeyUsage.oid, False, ext_key_usage))
    return tuple(found)


_BASIC_CONSTRAINTS = {
    is_ca: x509.Extension(x509.BasicConstraints.oid, True, x509.BasicConstraints(ca=is_ca, path_length=None))
    for is_ca in (False, True)
}


def create_ca(
    *,
    common_name: str,
    key: PrivateKey | None = None,
    validity: timedelta = DEFAULT_CA_VALIDITY,
    now: datetime | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A self-signed CA certificate (ECDSA P-256 unless `key` is given)."""
    if validity <= timedelta(0):
        raise ValueError("CA validity must be positive")
    key = key if key is not None else generate_private_key(KeySpec("ECDSA"))
    start = _utc(now)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, signature_hash(key))
    )
    return key, cert


def _sign_leaf(
    *,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    public_key: CertificateIssuerPublicKeyTypes,
    sans: x509.Extension[x509.SubjectAlternativeName] | None,
    duration: timedelta,
    usages: Sequence[str],
    is_ca: bool,
    now: datetime | None,
    serial: int | None,
) -> x509.Certificate:
    if duration <= timedelta(0):
        raise ValueError("certificate duration must be positive")
    start = _utc(now)
    if start < _EARLIEST_START:  # what CertificateBuilder.not_valid_before refuses
        raise ValueError("a certificate's validity cannot start before 1950")
    issuer, ca_expiry, aki = _issuer_facts(ca_cert)
    # Like cert-manager's CA issuer: never outlive the CA.
    end = min(start + duration, ca_expiry)
    if end <= start:
        raise ValueError("the CA certificate has expired")
    # cert-manager adds certSign to a CA request and falls back to the default usages.
    requested = tuple(usages) or DEFAULT_USAGES
    if is_ca and "cert sign" not in requested:
        requested = (*requested, "cert sign")
    extensions = [
        _BASIC_CONSTRAINTS[is_ca],
        aki,
        x509.Extension(x509.SubjectKeyIdentifier.oid, False, x509.SubjectKeyIdentifier.from_public_key(public_key)),
        *_usage_extensions(requested),
    ]
    if sans is not None:
        # RFC 5280: SAN must be critical when the subject is empty, whatever the CSR said.
        critical = sans.critical or len(subject) == 0
        extensions.append(sans if critical == sans.critical else x509.Extension(sans.oid, critical, sans.value))
    # One constructor call instead of a chain of ten builder copies (each one re-checks its
    # argument): every value here is already of the type and range the chained setters check.
    builder = x509.CertificateBuilder(
        issuer_name=issuer,
        subject_name=subject,
        public_key=public_key,
        serial_number=_checked_serial(serial) if serial is not None else random_serial(),
        not_valid_before=start.replace(tzinfo=None),
        not_valid_after=end.replace(tzinfo=None),
        extensions=extensions,
    )
    return builder.sign(ca_key, signature_hash(ca_key))


def _checked_serial(serial: int) -> int:
    """A caller's serial number, held to what X.509 allows (CertificateBuilder.serial_number's rule)."""
    if serial <= 0 or serial.bit_length() >= 160:
        raise ValueError("the serial number must be positive and fit in 159 bits")
    return serial


def sign_csr(
    *,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    duration: timedelta,
    usages: Sequence[str],
    is_ca: bool,
    now: datetime | None = None,
    serial: int | None = None,
) -> x509.Certificate:
    """Sign `csr` as cert-manager's CA issuer would.

    Subject and SANs (with their criticality) come from the CSR; validity is [now, now+duration]
    cut at the CA's own expiry; BasicConstraints and KeyUsage are critical; usages default to
    cert-manager's defaults and `is_ca` adds "cert sign". ValueError when the CSR signature does
    not verify, a usage is unknown, or the CA has expired.
    """
    public_key = csr.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported CSR public key type {type(public_key).__name__}")
    if not csr.is_signature_valid:
        raise ValueError("the CSR signature does not verify")
    try:
        sans: x509.Extension[x509.SubjectAlternativeName] | None = csr.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        sans = None
    return _sign_leaf(
        ca_key=ca_key,
        ca_cert=ca_cert,
        subject=csr.subject,
        public_key=public_key,
        sans=sans,
        duration=duration,
        usages=usages,
        is_ca=is_ca,
        now=now,
        serial=serial,
    )


def issue_serving_certificate(
    *,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    hosts: Sequence[str],
    duration: timedelta,
    now: datetime | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A fresh ECDSA P-256 key and a serverAuth certificate for `hosts` (IPs and DNS names)."""
    if not hosts:
        raise ValueError("a serving certificate needs at least one host")
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    dns_names: list[str] = []
    for host in hosts:
        try:
            ips.append(ipaddress.ip_address(host))
        except ValueError:
            dns_names.append(host)
    san = san_extension(dns_names=tuple(dns_names), ip_addresses=tuple(ips))
    assert san is not None  # hosts is not empty
    key = generate_private_key(KeySpec("ECDSA"))
    cert = _sign_leaf(
        ca_key=ca_key,
        ca_cert=ca_cert,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]),
        public_key=key.public_key(),
        sans=x509.Extension(x509.SubjectAlternativeName.oid, False, san),
        duration=duration,
        usages=("digital signature", "server auth"),
        is_ca=False,
        now=now,
        serial=None,
    )
    return key, cert
