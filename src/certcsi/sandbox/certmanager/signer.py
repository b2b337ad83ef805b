"""A CA issuer's key pair, read once from its Secret, and the signing of one CertificateRequest with it.

What goes into `status.certificate` and `status.ca` follows cert-manager: the leaf plus every CA
certificate above it except a self-signed root; `ca` is the top of the chain (the root when present).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from certcsi.pki.certs import certificate_pem, chain_pem, key_matches_certificate
from certcsi.pki.keys import PrivateKey, load_private_key
from certcsi.pki.signing import sign_csr
from certcsi.pki.usages import DEFAULT_USAGES
from certcsi.sandbox.certmanager.admission import decode_request, parse_duration

DEFAULT_DURATION = timedelta(hours=2160)  # cert-manager's DefaultCertificateDuration (90 days)


class KeyPairError(ValueError):
    """The Secret exists but does not hold a usable CA key pair; the message says what is wrong."""


class TemplateError(ValueError):
    """The request itself cannot be turned into a certificate (bad CSR, duration or usage)."""


@dataclass(frozen=True)
class Issued:
    """What the issuer writes back, both already base64 for the JSON status."""

    certificate: str
    ca: str


@dataclass(frozen=True)
class CASigner:
    """A parsed CA key pair; `chain_tail` and `ca` are pre-rendered PEM so signing does no re-encoding."""

    key: PrivateKey
    cert: x509.Certificate
    chain_tail: bytes
    ca: bytes
    # status.ca as written: the same for every request this CA signs, so encoded once.
    ca_base64: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ca_base64", base64.b64encode(self.ca).decode())

    def sign(self, spec: Mapping[str, Any], *, now: datetime | None = None) -> Issued:
        """Sign the request `spec`; TemplateError for a request problem, ValueError for a signing one."""
        try:
            csr = decode_request(str(spec.get("request", "")))
            duration = parse_duration(spec["duration"]) if spec.get("duration") else DEFAULT_DURATION
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        usages = list(spec.get("usages") or DEFAULT_USAGES)
        try:
            # sign_csr checks the CSR's signature: verifying it here as well would double the
            # costliest step of a signing that succeeds.
            leaf = sign_csr(
                ca_key=self.key,
                ca_cert=self.cert,
                csr=csr,
                duration=duration,
                usages=usages,
                is_ca=bool(spec.get("isCA")),
                now=now,
            )
        except ValueError:
            if not csr.is_signature_valid:  # the request's fault, whatever else failed
                raise TemplateError("failed to check CSR signature: the signature does not verify") from None
            raise
        pem = certificate_pem(leaf) + self.chain_tail
        return Issued(certificate=base64.b64encode(pem).decode(), ca=self.ca_base64)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def load_signer(secret: Mapping[str, Any]) -> CASigner:
    """The CA in a `kubernetes.io/tls` Secret (`tls.crt` chain, `tls.key`); KeyPairError naming the problem."""
    data = secret.get("data") or {}

    def member(name: str) -> bytes:
        value = data.get(name)
        if not value:
            raise KeyPairError(f"secret has no {name!r} data")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise KeyPairError(f"secret's {name!r} data is not valid base64") from None

    try:
        certs = x509.load_pem_x509_certificates(member("tls.crt"))
    except ValueError:
        raise KeyPairError("error decoding certificate PEM block in 'tls.crt'") from None
    try:
        key = load_private_key(member("tls.key"))
    except ValueError as exc:
        raise KeyPairError(f"'tls.key': {exc}") from None
    cert = certs[0]
    if not key_matches_certificate(key, cert):
        raise KeyPairError("the private key does not match the certificate")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise KeyPairError("certificate is not a CA")
    above = certs[1:] if not _self_signed(cert) else []
    tail = [c for c in [cert, *above] if not _self_signed(c)]
    top = [cert, *above][-1]
    return CASigner(key=key, cert=cert, chain_tail=chain_pem(tail), ca=certificate_pem(top))
