"""Stricter rule (subject): the subject must be empty, not only free of a common name."""

from __future__ import annotations

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, assert_denied, csr_pem, make_request, uri_san
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certcsi.approver import evaluate


def test_an_empty_subject_passes() -> None:
    assert_approved(evaluate(make_request(csr_pem(subject=x509.Name([]))), POLICY))


@pytest.mark.parametrize(
    "oid",
    [NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.SERIAL_NUMBER, ObjectIdentifier("1.2.3.4")],
)
def test_any_subject_attribute_is_denied(oid: ObjectIdentifier) -> None:
    subject = x509.Name([x509.NameAttribute(oid, "x")])
    verdict = evaluate(make_request(csr_pem(subject=subject, extensions=[uri_san(SPIFFE_ID)])), POLICY)
    assert_denied(verdict, "subject", "must be empty", oid.dotted_string)
