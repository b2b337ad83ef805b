"""files(): certificate, key (in the asked encoding), CA and PKCS#12; fs_group()."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import IssuanceError
from certcsi.pki.keys import KeySpec, generate_private_key, load_private_key
from certcsi.volumes.driver import Issued, RequestPlan, Volume

VolumeFor = Callable[..., Volume]
Issue = Callable[[RequestPlan], Issued]
PASSWORD_KEY = "csi.cert-manager.io/pkcs12-password"


def test_default_file_set(volume_for: VolumeFor, issue: Issue, rsa_key: rsa.RSAPrivateKey) -> None:
    driver = CertManagerDriver()
    volume = volume_for({})
    issued = issue(driver.build_request(volume, rsa_key))
    files = driver.files(volume, rsa_key, issued)
    assert set(files) == {"tls.crt", "tls.key", "ca.crt"}
    assert files["tls.crt"] == issued.certificate_pem
    assert files["ca.crt"] == issued.ca_pem
    assert files["tls.key"].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    loaded = load_private_key(files["tls.key"])
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == rsa_key.private_numbers()


def test_custom_names_and_pkcs8(volume_for: VolumeFor, issue: Issue, ec_key: ec.EllipticCurvePrivateKey) -> None:
    driver = CertManagerDriver()
    volume = volume_for(
        {
            "csi.cert-manager.io/key-algorithm": "ECDSA",
            "csi.cert-manager.io/certificate-file": "a.pem",
            "csi.cert-manager.io/privatekey-file": "a.key",
            "csi.cert-manager.io/ca-file": "root.pem",
        }
    )
    files = driver.files(volume, ec_key, issue(driver.build_request(volume, ec_key)))
    assert set(files) == {"a.pem", "a.key", "root.pem"}
    assert files["a.key"].startswith(b"-----BEGIN PRIVATE KEY-----")


def test_pkcs12_keystore_opens_with_the_password(
    volume_for: VolumeFor, issue: Issue, rsa_key: rsa.RSAPrivateKey
) -> None:
    driver = CertManagerDriver()
    volume = volume_for(
        {"csi.cert-manager.io/pkcs12-enable": "true", "csi.cert-manager.io/pkcs12-filename": "tls.p12"},
        secrets={PASSWORD_KEY: "my-password"},
    )
    issued = issue(driver.build_request(volume, rsa_key))
    files = driver.files(volume, rsa_key, issued)
    assert set(files) == {"tls.crt", "tls.key", "ca.crt", "tls.p12"}
    key, cert, cas = pkcs12.load_key_and_certificates(files["tls.p12"], b"my-password")
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == rsa_key.private_numbers()
    assert cert is not None
    assert cert.public_bytes(Encoding.PEM) in issued.certificate_pem
    assert [ca.subject.rfc4514_string() for ca in cas] == ["CN=certmanager driver test CA"]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(files["tls.p12"], b"wrong")


def test_pkcs12_failure_is_an_issuance_error_without_the_password(
    volume_for: VolumeFor, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    driver = CertManagerDriver()
    volume = volume_for(
        {"csi.cert-manager.io/pkcs12-enable": "true", "csi.cert-manager.io/key-algorithm": "ECDSA"},
        secrets={PASSWORD_KEY: "s3cr3t-pw"},
    )
    issued = issue(driver.build_request(volume, ec_key))
    other = generate_private_key(KeySpec("ECDSA", 256))  # does not match the issued certificate
    with pytest.raises(IssuanceError) as info:
        driver.files(volume, other, issued)
    assert "PKCS#12" in str(info.value)
    assert "s3cr3t-pw" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_password_in_volume_secrets_only(volume_for: VolumeFor) -> None:
    # The engine strips secrets from attributes; the driver must find the password in `secrets`.
    driver = CertManagerDriver()
    assert driver.secret_attributes == frozenset({PASSWORD_KEY})
    volume = volume_for({"csi.cert-manager.io/pkcs12-enable": "true"}, secrets={PASSWORD_KEY: "pw"})
    assert driver.attributes(volume).pkcs12_password == "pw"


@pytest.mark.parametrize(
    ("attribute", "mount_group", "expected"),
    [(None, None, None), (None, 3000, 3000), ("2000", None, 2000), ("2000", 3000, 2000)],
)
def test_fs_group_attribute_wins_over_mount_group(
    volume_for: VolumeFor, attribute: str | None, mount_group: int | None, expected: int | None
) -> None:
    volume = volume_for({"csi.cert-manager.io/fs-group": attribute}, mount_group=mount_group)
    assert CertManagerDriver().fs_group(volume) == expected
