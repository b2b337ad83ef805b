"""Rule 1 (request): spec.request must be base64 of a PEM CSR whose extensions decode."""

from __future__ import annotations

import pytest
from approver_support import POLICY, assert_approved, assert_denied, b64, csr_pem, make_request, uri_san, without
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from certcsi.approver import evaluate
from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca


def test_a_well_formed_request_passes() -> None:
    assert_approved(evaluate(make_request(), POLICY))


def test_missing_request_is_denied() -> None:
    assert_denied(evaluate(without(make_request(), "spec", "request"), POLICY), "request", "spec.request is missing")


@pytest.mark.parametrize("value", [12, None, "", ["x"], {"a": 1}])
def test_non_string_request_is_denied(value: object) -> None:
    assert_denied(evaluate(make_request(request=value), POLICY), "request", "not a base64 string")


def test_invalid_base64_is_denied() -> None:
    assert_denied(evaluate(make_request(request="%%%not-base64%%%"), POLICY), "request", "not valid base64")


def test_base64_of_something_that_is_not_pem_is_denied() -> None:
    verdict = evaluate(make_request(request=b64(b"hello")), POLICY)
    assert_denied(verdict, "request", 'no "CERTIFICATE REQUEST" PEM block')


def test_pem_with_garbage_inside_is_denied() -> None:
    pem = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    assert_denied(evaluate(make_request(request=b64(pem)), POLICY), "request", "malformed")


def test_a_certificate_instead_of_a_csr_is_denied() -> None:
    _, cert = create_ca(common_name="not a csr")
    verdict = evaluate(make_request(request=b64(certificate_pem(cert))), POLICY)
    assert_denied(verdict, "request", 'no "CERTIFICATE REQUEST" PEM block')


def test_an_undecodable_extension_is_denied_as_unparsable() -> None:
    # encipherOnly without keyAgreement: cryptography (like Go) refuses to decode this KeyUsage.
    bad_key_usage = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, bytes([0x03, 0x02, 0x00, 0x01]))
    pem = csr_pem(extensions=[uri_san("spiffe://cluster.local/ns/sandbox/sa/app"), (bad_key_usage, True)])
    assert_denied(evaluate(make_request(pem), POLICY), "request", "malformed CSR extensions")
