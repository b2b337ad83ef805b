"""PKCS#12 keystores: contents, legacy (Java-8-compatible) algorithms, keytool, no password leaks."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.keys import PrivateKey
from certcsi.pki.pkcs12 import encode_pkcs12
from certcsi.pki.signing import sign_csr

from .support import NOW

PASSWORD = b"s3cret-Passw0rd"

Chain = list[x509.Certificate]


def _chain(key: PrivateKey, ca: tuple[PrivateKey, x509.Certificate]) -> Chain:
    csr = load_csr(build_csr(key, CsrSpec(dns_names=("app.example",))))
    leaf = sign_csr(ca_key=ca[0], ca_cert=ca[1], csr=csr, duration=timedelta(days=1), usages=(), is_ca=False, now=NOW)
    return [leaf, ca[1]]


@pytest.fixture
def ec_chain(ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]) -> Chain:
    return _chain(ec_key, ca)


def _keytool_list(path: Path, password: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", str(path), "-storepass", password.decode()],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _spki(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_round_trip_contents(ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    data = encode_pkcs12(key=ec_key, chain=ec_chain, password=PASSWORD, friendly_name=b"tls")
    loaded = pkcs12.load_pkcs12(data, PASSWORD)
    assert loaded.key is not None
    assert _spki(loaded.key.public_key()) == _spki(ec_key.public_key())
    assert loaded.cert is not None
    assert loaded.cert.certificate == ec_chain[0]
    assert loaded.cert.friendly_name == b"tls"
    assert [c.certificate for c in loaded.additional_certs] == ec_chain[1:]


def test_leaf_only_chain(ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    loaded = pkcs12.load_pkcs12(encode_pkcs12(key=ec_key, chain=ec_chain[:1], password=PASSWORD), PASSWORD)
    assert loaded.cert is not None
    assert loaded.additional_certs == []


def test_uses_legacy_algorithms(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    path = tmp_path / "keystore.p12"
    path.write_bytes(encode_pkcs12(key=ec_key, chain=ec_chain, password=PASSWORD))
    result = subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-in", str(path), "-passin", "env:P12PASS"],
        env={"P12PASS": PASSWORD.decode(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = result.stdout + result.stderr
    assert "MAC: sha1" in report
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in report
    assert "PBES2" not in report
    assert "AES" not in report


@pytest.mark.parametrize("fixture", ["ec_key", "rsa_key"])
def test_keytool_lists_private_key_entry_with_chain(
    fixture: str,
    request: pytest.FixtureRequest,
    ca: tuple[PrivateKey, x509.Certificate],
    tmp_path: Path,
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    path = tmp_path / "keystore.p12"
    path.write_bytes(encode_pkcs12(key=key, chain=_chain(key, ca), password=PASSWORD, friendly_name=b"tls"))
    result = _keytool_list(path, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Entry type: PrivateKeyEntry" in result.stdout
    assert "Certificate chain length: 2" in result.stdout
    assert "Alias name: tls" in result.stdout


def test_keytool_rejects_wrong_password(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    path = tmp_path / "keystore.p12"
    path.write_bytes(encode_pkcs12(key=ec_key, chain=ec_chain, password=PASSWORD))
    result = _keytool_list(path, b"wrong-password")
    assert result.returncode != 0
    assert "PrivateKeyEntry" not in result.stdout


def test_wrong_password_fails_to_load(ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    data = encode_pkcs12(key=ec_key, chain=ec_chain, password=PASSWORD)
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(data, b"wrong-password")


@pytest.mark.parametrize(
    ("case", "fragment"),
    [("empty-chain", "chain is empty"), ("empty-password", "must not be empty"), ("other-key", "does not match")],
)
def test_bad_input_errors_never_contain_the_password(
    case: str,
    fragment: str,
    ec_key: ec.EllipticCurvePrivateKey,
    ed_key: PrivateKey,
    ec_chain: Chain,
) -> None:
    chain = [] if case == "empty-chain" else ec_chain
    password = b"" if case == "empty-password" else PASSWORD
    key = ed_key if case == "other-key" else ec_key
    with pytest.raises(ValueError, match=fragment) as excinfo:
        encode_pkcs12(key=key, chain=chain, password=password)
    assert PASSWORD.decode() not in str(excinfo.value)
    assert excinfo.value.__cause__ is None


def test_library_failure_is_reported_without_the_password(ec_key: ec.EllipticCurvePrivateKey, ec_chain: Chain) -> None:
    with pytest.raises(ValueError, match=r"^PKCS#12: encoding failed \(\w+\)$") as excinfo:
        encode_pkcs12(key=ec_key, chain=ec_chain, password=PASSWORD.decode())  # type: ignore[arg-type]
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__
