"""Rule 4 (names): no DNS names, IP addresses, common name or email addresses in the CSR."""

from __future__ import annotations

import ipaddress

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, assert_denied, csr_pem, make_request, san
from cryptography import x509
from cryptography.x509.oid import NameOID

from certcsi.approver import evaluate

URI = x509.UniformResourceIdentifier(SPIFFE_ID)


def test_a_lone_uri_san_passes() -> None:
    assert_approved(evaluate(make_request(csr_pem(extensions=[san(URI)])), POLICY))


@pytest.mark.parametrize(
    ("name", "label"),
    [
        (x509.DNSName("app.sandbox.svc"), "DNS names=['app.sandbox.svc']"),
        (x509.IPAddress(ipaddress.ip_address("10.0.0.1")), "IP addresses=['10.0.0.1']"),
        (x509.RFC822Name("app@example.com"), "email addresses=['app@example.com']"),
    ],
)
def test_another_san_beside_the_uri_is_denied(name: x509.GeneralName, label: str) -> None:
    verdict = evaluate(make_request(csr_pem(extensions=[san(URI, name)])), POLICY)
    assert_denied(verdict, "names", label)


def test_a_common_name_is_denied_by_this_rule() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app")])
    verdict = evaluate(make_request(csr_pem(subject=subject, extensions=[san(URI)])), POLICY)
    assert_denied(verdict, "names", "common name=['app']")


def test_every_forbidden_name_is_listed() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app")])
    pem = csr_pem(subject=subject, extensions=[san(URI, x509.DNSName("a.example"), x509.RFC822Name("a@b.c"))])
    assert_denied(evaluate(make_request(pem), POLICY), "names", "DNS names=", "common name=", "email addresses=")
