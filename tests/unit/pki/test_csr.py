"""Building and decoding CSRs: names, extension requests and their criticality, signature hashes."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key
from certcsi.pki.subject import build_subject

SPIFFE_USAGES = ("key encipherment", "digital signature", "client auth", "server auth")


def _csr(key: PrivateKey, spec: CsrSpec) -> x509.CertificateSigningRequest:
    csr = load_csr(build_csr(key, spec))
    assert csr.is_signature_valid
    return csr


def _spki(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_pem_and_public_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = build_csr(ec_key, CsrSpec(dns_names=("a.example",)))
    assert pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----\n")
    assert _spki(load_csr(pem).public_key()) == _spki(ec_key.public_key())


@pytest.mark.parametrize(
    ("spec", "digest"),
    [
        (KeySpec("ECDSA", 256), hashes.SHA256),
        (KeySpec("ECDSA", 384), hashes.SHA384),
        (KeySpec("ECDSA", 521), hashes.SHA512),
    ],
)
def test_ecdsa_signature_hash(spec: KeySpec, digest: type[hashes.HashAlgorithm]) -> None:
    csr = _csr(generate_private_key(spec), CsrSpec(dns_names=("a.example",)))
    assert isinstance(csr.signature_hash_algorithm, digest)


def test_rsa_signature_hash(rsa_key: rsa.RSAPrivateKey) -> None:
    assert isinstance(_csr(rsa_key, CsrSpec(dns_names=("a",))).signature_hash_algorithm, hashes.SHA256)


def test_ed25519_has_no_separate_hash(ed_key: ed25519.Ed25519PrivateKey) -> None:
    assert _csr(ed_key, CsrSpec(dns_names=("a",))).signature_hash_algorithm is None


def test_all_san_kinds(ec_key: ec.EllipticCurvePrivateKey) -> None:
    spec = CsrSpec(
        subject=build_subject(common_name="app"),
        dns_names=("a.example", "b.example"),
        ip_addresses=(ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("::1")),
        uris=("spiffe://cluster.local/ns/a/sa/b",),
        emails=("ops@example.com",),
    )
    san = _csr(ec_key, spec).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.example", "b.example"]
    assert san.get_values_for_type(x509.IPAddress) == list(spec.ip_addresses)
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/a/sa/b"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]


def test_san_critical_when_subject_empty(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(uris=("spiffe://cluster.local/ns/a/sa/b",)))
    assert len(csr.subject) == 0
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_san_not_critical_with_subject(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(subject=build_subject(common_name="app"), dns_names=("a",)))
    assert not csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    assert csr.subject.rfc4514_string() == "CN=app"


def test_no_sans_no_san_extension(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(subject=build_subject(common_name="app")))
    assert list(csr.extensions) == []


def test_spiffe_request_extensions(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(uris=("spiffe://cluster.local/ns/a/sa/b",), usages=SPIFFE_USAGES))
    by_oid = {ext.oid: ext for ext in csr.extensions}
    assert set(by_oid) == {
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
    }
    ku = by_oid[ExtensionOID.KEY_USAGE]
    assert ku.critical
    assert isinstance(ku.value, x509.KeyUsage)
    assert ku.value.digital_signature and ku.value.key_encipherment and not ku.value.key_cert_sign
    eku = by_oid[ExtensionOID.EXTENDED_KEY_USAGE]
    assert not eku.critical
    assert isinstance(eku.value, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]


def test_only_extended_usages_gives_no_key_usage(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(dns_names=("a",), usages=("server auth",)))
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.KeyUsage)
    assert csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def test_is_ca_requests_critical_basic_constraints(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(subject=build_subject(common_name="sub-ca"), is_ca=True))
    bc = csr.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca


def test_not_ca_has_no_basic_constraints(ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _csr(ec_key, CsrSpec(dns_names=("a",), usages=("digital signature",)))
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.BasicConstraints)


def test_unknown_usage_is_rejected(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="'nonsense'"):
        build_csr(ec_key, CsrSpec(dns_names=("a",), usages=("nonsense",)))


def test_openssl_accepts_and_verifies(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = build_csr(ec_key, CsrSpec(uris=("spiffe://cluster.local/ns/a/sa/b",), usages=SPIFFE_USAGES))
    result = subprocess.run(
        ["openssl", "req", "-noout", "-verify", "-text"], input=pem, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert b"spiffe://cluster.local/ns/a/sa/b" in result.stdout
    assert b"critical" in result.stdout


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ],
)
def test_load_garbage(pem: bytes) -> None:
    with pytest.raises(ValueError, match=r"^failed to decode CSR: .+"):
        load_csr(pem)


def test_load_a_certificate_is_not_a_csr(ca: tuple[PrivateKey, x509.Certificate]) -> None:
    with pytest.raises(ValueError, match=r"^failed to decode CSR"):
        load_csr(ca[1].public_bytes(serialization.Encoding.PEM))


def test_load_csr_rejects_an_unknown_version_as_value_error() -> None:
    import base64
    import re

    from certcsi.pki.csr import CsrSpec, build_csr, load_csr
    from certcsi.pki.keys import KeySpec, generate_private_key

    pem = build_csr(generate_private_key(KeySpec("ECDSA")), CsrSpec(dns_names=("a.example",)))
    body = re.sub(rb"-----[A-Z ]+-----|\n", b"", pem)
    der = bytearray(base64.b64decode(body))
    # CertificationRequestInfo starts with INTEGER version 0 (02 01 00): make it 7.
    at = der.index(b"\x02\x01\x00")
    der[at + 2] = 7
    armoured = base64.encodebytes(bytes(der))
    broken = b"-----BEGIN CERTIFICATE REQUEST-----\n" + armoured + b"-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(ValueError, match="failed to decode CSR"):
        load_csr(broken)
