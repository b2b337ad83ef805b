"""Rule 5 (extension, san-type): only SAN, KeyUsage and ExtendedKeyUsage, and the SAN holds only URIs."""

from __future__ import annotations

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, assert_denied, csr_pem, make_request, san, uri_san
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certcsi.approver import evaluate

URI = x509.UniformResourceIdentifier(SPIFFE_ID)
DIGITAL_SIGNATURE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=True,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def test_san_key_usage_and_extended_key_usage_pass() -> None:
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    pem = csr_pem(extensions=[uri_san(SPIFFE_ID), (DIGITAL_SIGNATURE, True), (eku, False)])
    assert_approved(evaluate(make_request(pem), POLICY))


@pytest.mark.parametrize(
    ("extension", "oid"),
    [
        (x509.BasicConstraints(ca=False, path_length=None), "2.5.29.19"),
        (x509.BasicConstraints(ca=True, path_length=0), "2.5.29.19"),
        (x509.OCSPNoCheck(), "1.3.6.1.5.5.7.48.1.5"),
        (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), "1.3.6.1.4.1.99999.1"),
    ],
)
def test_any_other_extension_is_denied(extension: x509.ExtensionType, oid: str) -> None:
    pem = csr_pem(extensions=[uri_san(SPIFFE_ID), (extension, False)])
    assert_denied(evaluate(make_request(pem), POLICY), "extension", f"forbidden extension: {oid}")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (x509.DirectoryName(x509.Name([])), "DirectoryName"),
        (x509.RegisteredID(ObjectIdentifier("1.2.3.4")), "RegisteredID"),
        (x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03app"), "OtherName"),
    ],
)
def test_a_san_of_another_type_is_denied(name: x509.GeneralName, kind: str) -> None:
    pem = csr_pem(extensions=[san(URI, name)])
    assert_denied(evaluate(make_request(pem), POLICY), "san-type", kind)
