"""The test/sandbox CA: self-signed roots, CSR signing as cert-manager's CA issuer, serving certs."""

from __future__ import annotations

import ipaddress
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key
from certcsi.pki.signing import (
    DEFAULT_CA_VALIDITY,
    certificate_pem,
    chain_pem,
    create_ca,
    issue_serving_certificate,
    sign_csr,
)
from certcsi.pki.subject import build_subject
from certcsi.pki.usages import usages_of

from .support import NOW

CA = tuple[PrivateKey, x509.Certificate]
SPIFFE_URI = "spiffe://cluster.local/ns/sandbox/sa/app"
SPIFFE_USAGES = ("key encipherment", "digital signature", "client auth", "server auth")


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


def _usages(cert: x509.Certificate) -> frozenset[str]:
    exts = {type(e.value): e.value for e in cert.extensions}
    ku, eku = exts.get(x509.KeyUsage), exts.get(x509.ExtendedKeyUsage)
    assert ku is None or isinstance(ku, x509.KeyUsage)
    assert eku is None or isinstance(eku, x509.ExtendedKeyUsage)
    return usages_of(ku, eku)


def _spiffe_csr(key: PrivateKey) -> x509.CertificateSigningRequest:
    return load_csr(build_csr(key, CsrSpec(uris=(SPIFFE_URI,), usages=SPIFFE_USAGES)))


def _sign(ca: CA, csr: x509.CertificateSigningRequest, **overrides: object) -> x509.Certificate:
    args: dict[str, object] = {
        "ca_key": ca[0],
        "ca_cert": ca[1],
        "csr": csr,
        "duration": timedelta(hours=1),
        "usages": SPIFFE_USAGES,
        "is_ca": False,
        "now": NOW,
    }
    args.update(overrides)
    return sign_csr(**args)  # type: ignore[arg-type]


def _openssl_verify(tmp_path: Path, ca_cert: x509.Certificate, leaf: x509.Certificate, *extra: str) -> str:
    (tmp_path / "ca.pem").write_bytes(certificate_pem(ca_cert))
    (tmp_path / "leaf.pem").write_bytes(certificate_pem(leaf))
    result = subprocess.run(
        ["openssl", "verify", *extra, "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr if result.returncode else result.stdout


# --- create_ca ---------------------------------------------------------------------------------


def test_ca_is_self_signed_with_critical_constraints(ca: CA) -> None:
    key, cert = ca
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "certcsi test CA"
    cert.verify_directly_issued_by(cert)
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert isinstance(bc.value, x509.BasicConstraints) and bc.value.ca
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical
    assert _usages(cert) == {"cert sign", "crl sign", "digital signature"}
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_ca_default_validity_is_ten_years_from_now(ca: CA) -> None:
    assert timedelta(days=3650) == DEFAULT_CA_VALIDITY
    assert ca[1].not_valid_before_utc == NOW
    assert ca[1].not_valid_after_utc == NOW + DEFAULT_CA_VALIDITY


def test_ca_uses_the_given_key_and_validity(rsa_key: rsa.RSAPrivateKey) -> None:
    key, cert = create_ca(common_name="rsa CA", key=rsa_key, validity=timedelta(days=1), now=NOW)
    assert key is rsa_key
    assert cert.public_key() == rsa_key.public_key()
    assert cert.not_valid_after_utc == NOW + timedelta(days=1)


def test_ca_without_now_uses_the_clock() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    _, cert = create_ca(common_name="live")
    assert before <= cert.not_valid_before_utc <= datetime.now(UTC)


def test_ca_rejects_non_positive_validity() -> None:
    with pytest.raises(ValueError, match="validity must be positive"):
        create_ca(common_name="x", validity=timedelta(0), now=NOW)


# --- sign_csr ----------------------------------------------------------------------------------


def test_spiffe_leaf(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    leaf = _sign(ca, _spiffe_csr(ec_key))
    assert leaf.issuer == ca[1].subject
    assert len(leaf.subject) == 0
    assert leaf.public_key() == ec_key.public_key()
    leaf.verify_directly_issued_by(ca[1])
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert san.critical  # copied from the CSR: empty subject
    assert isinstance(san.value, x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [SPIFFE_URI]
    assert _usages(leaf) == set(SPIFFE_USAGES)
    assert _ext(leaf, x509.KeyUsage).critical
    assert not _ext(leaf, x509.ExtendedKeyUsage).critical


def test_validity_is_now_plus_duration(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    leaf = _sign(ca, _spiffe_csr(ec_key), duration=timedelta(hours=2160))
    assert leaf.not_valid_before_utc == NOW
    assert leaf.not_valid_after_utc == NOW + timedelta(days=90)


def test_validity_is_cut_at_ca_expiry(ec_key: ec.EllipticCurvePrivateKey) -> None:
    short_ca = create_ca(common_name="short", validity=timedelta(hours=5), now=NOW)
    leaf = _sign(short_ca, _spiffe_csr(ec_key), duration=timedelta(days=90))
    assert leaf.not_valid_after_utc == NOW + timedelta(hours=5)


def test_expired_ca_refuses(ec_key: ec.EllipticCurvePrivateKey) -> None:
    old_ca = create_ca(common_name="old", validity=timedelta(hours=1), now=NOW - timedelta(days=1))
    with pytest.raises(ValueError, match="CA certificate has expired"):
        _sign(old_ca, _spiffe_csr(ec_key))


def test_non_positive_duration_refused(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="duration must be positive"):
        _sign(ca, _spiffe_csr(ec_key), duration=timedelta(seconds=-1))


def test_naive_now_is_utc_and_microseconds_dropped(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    naive = datetime(2025, 1, 1, 12, 0, 0, 999999)
    leaf = _sign(ca, _spiffe_csr(ec_key), now=naive)
    assert leaf.not_valid_before_utc == NOW


def test_basic_constraints_critical_and_not_ca(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    bc = _ext(_sign(ca, _spiffe_csr(ec_key)), x509.BasicConstraints)
    assert bc.critical
    assert isinstance(bc.value, x509.BasicConstraints) and not bc.value.ca


def test_is_ca_leaf_gets_cert_sign(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = load_csr(build_csr(ec_key, CsrSpec(subject=build_subject(common_name="sub"), is_ca=True)))
    leaf = _sign(ca, csr, usages=("digital signature",), is_ca=True)
    bc = _ext(leaf, x509.BasicConstraints).value
    assert isinstance(bc, x509.BasicConstraints) and bc.ca
    assert _usages(leaf) == {"digital signature", "cert sign"}


def test_empty_usages_default_like_cert_manager(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    leaf = _sign(ca, _spiffe_csr(ec_key), usages=())
    assert _usages(leaf) == {"digital signature", "key encipherment"}
    with pytest.raises(x509.ExtensionNotFound):
        _ext(leaf, x509.ExtendedKeyUsage)


def test_unknown_usage_refused(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        _sign(ca, _spiffe_csr(ec_key), usages=("bogus",))


def test_subject_and_all_sans_come_from_the_csr(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    spec = CsrSpec(
        subject=build_subject(common_name="app", organizations=["Acme"]),
        dns_names=("app.example",),
        ip_addresses=(ipaddress.ip_address("10.1.2.3"),),
        uris=("https://app.example/id",),
        emails=("ops@example.com",),
    )
    csr = load_csr(build_csr(ec_key, spec))
    leaf = _sign(ca, csr)
    assert leaf.subject == spec.subject
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical  # the CSR's criticality: subject present
    assert san.value == csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_no_sans_no_san_extension(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = load_csr(build_csr(ec_key, CsrSpec(subject=build_subject(common_name="app"))))
    with pytest.raises(x509.ExtensionNotFound):
        _ext(_sign(ca, csr), x509.SubjectAlternativeName)


def test_aki_is_the_ca_ski_and_leaf_has_ski(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    leaf = _sign(ca, _spiffe_csr(ec_key))
    ca_ski = _ext(ca[1], x509.SubjectKeyIdentifier).value
    aki = _ext(leaf, x509.AuthorityKeyIdentifier).value
    assert isinstance(ca_ski, x509.SubjectKeyIdentifier) and isinstance(aki, x509.AuthorityKeyIdentifier)
    assert aki.key_identifier == ca_ski.digest
    assert _ext(leaf, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(ec_key.public_key())


def test_serials_are_random_128_bit(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _spiffe_csr(ec_key)
    serials = {_sign(ca, csr).serial_number for _ in range(20)}
    assert len(serials) == 20
    assert all(0 < s < 2**128 for s in serials)


def test_explicit_serial(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert _sign(ca, _spiffe_csr(ec_key), serial=4242).serial_number == 4242


@pytest.mark.parametrize("serial", [0, -1, 2**159])
def test_explicit_serial_out_of_range_refused(ca: CA, ec_key: ec.EllipticCurvePrivateKey, serial: int) -> None:
    with pytest.raises(ValueError, match="serial number"):
        _sign(ca, _spiffe_csr(ec_key), serial=serial)


def test_validity_starting_before_1950_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    ca = create_ca(common_name="old", now=datetime(1950, 1, 2, tzinfo=UTC), validity=timedelta(days=36500))
    with pytest.raises(ValueError, match="before 1950"):
        _sign(ca, _spiffe_csr(ec_key), now=datetime(1949, 12, 31, tzinfo=UTC))


def test_largest_explicit_serial_kept(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert _sign(ca, _spiffe_csr(ec_key), serial=2**159 - 1).serial_number == 2**159 - 1


def test_tampered_csr_refused(ca: CA, rsa_key: rsa.RSAPrivateKey) -> None:
    der = bytearray(load_csr(build_csr(rsa_key, CsrSpec(dns_names=("a",)))).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the last byte is inside the RSA signature
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(ValueError, match="CSR signature does not verify"):
        _sign(ca, tampered)


@pytest.mark.parametrize("fixture", ["rsa_key", "ec_key", "ed_key"])
def test_openssl_verifies_leaf_for_each_key_type(
    fixture: str, request: pytest.FixtureRequest, ca: CA, tmp_path: Path
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    leaf = _sign(ca, _spiffe_csr(key), now=None)
    assert _openssl_verify(tmp_path, ca[1], leaf) == f"{tmp_path / 'leaf.pem'}: OK\n"


@pytest.mark.parametrize("ca_spec", [KeySpec("RSA"), KeySpec("ECDSA", 384), KeySpec("ECDSA", 521), KeySpec("Ed25519")])
def test_openssl_verifies_leaf_for_each_ca_key_type(
    ca_spec: KeySpec, ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    ca_key = rsa_key if ca_spec.algorithm == "RSA" else generate_private_key(ca_spec)
    other_ca = create_ca(common_name="other", key=ca_key)
    leaf = _sign(other_ca, _spiffe_csr(ec_key), now=None)
    assert _openssl_verify(tmp_path, other_ca[1], leaf).endswith(": OK\n")


def test_openssl_rejects_leaf_from_another_ca(ca: CA, ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path) -> None:
    leaf = _sign(ca, _spiffe_csr(ec_key), now=None)
    stranger = create_ca(common_name="certcsi test CA")  # same name, different key
    assert "OK" not in _openssl_verify(tmp_path, stranger[1], leaf)


def test_thousand_signatures_are_fast(ca: CA, ec_key: ec.EllipticCurvePrivateKey) -> None:
    csr = _spiffe_csr(ec_key)
    start = time.perf_counter()
    for _ in range(1000):
        _sign(ca, csr)
    # The sandbox benchmark signs 1,000 requests inside a 5 s budget shared with everything else.
    assert time.perf_counter() - start < 2.0


# --- issue_serving_certificate -----------------------------------------------------------------


def test_serving_certificate(ca: CA, tmp_path: Path) -> None:
    key, cert = issue_serving_certificate(
        ca_key=ca[0], ca_cert=ca[1], hosts=["127.0.0.1", "localhost", "::1"], duration=timedelta(days=1)
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert cert.public_key() == key.public_key()
    san = _ext(cert, x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = _ext(cert, x509.ExtendedKeyUsage).value
    assert isinstance(eku, x509.ExtendedKeyUsage)
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    for check in (["-verify_ip", "127.0.0.1"], ["-verify_hostname", "localhost"]):
        report = _openssl_verify(tmp_path, ca[1], cert, "-purpose", "sslserver", *check)
        assert report.endswith(": OK\n"), report


def test_serving_certificate_needs_hosts(ca: CA) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        issue_serving_certificate(ca_key=ca[0], ca_cert=ca[1], hosts=[], duration=timedelta(days=1))


def test_pem_helpers_reexported(ca: CA) -> None:
    assert chain_pem([ca[1], ca[1]]) == certificate_pem(ca[1]) * 2


def test_ed25519_ca_key_signs(ed_key: ed25519.Ed25519PrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    ed_ca = create_ca(common_name="ed", key=ed_key, now=NOW)
    leaf = _sign(ed_ca, _spiffe_csr(ec_key))
    assert leaf.signature_hash_algorithm is None
    leaf.verify_directly_issued_by(ed_ca[1])
