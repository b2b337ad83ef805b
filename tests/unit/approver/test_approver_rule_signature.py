"""Rule 3 (signature): the CSR's signature must verify with its own public key."""

from __future__ import annotations

from approver_support import POLICY, assert_approved, assert_denied, b64, csr_pem, make_request, tampered

from certcsi.approver import evaluate


def test_a_correctly_signed_csr_passes() -> None:
    assert_approved(evaluate(make_request(csr_pem()), POLICY))


def test_a_csr_with_a_broken_signature_is_denied() -> None:
    verdict = evaluate(make_request(request=b64(tampered(csr_pem()))), POLICY)
    assert_denied(verdict, "signature", "does not verify")
