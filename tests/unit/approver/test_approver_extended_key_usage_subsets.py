"""Rule 5 (extended-key-usage), exhaustively: of 8 EKU OIDs' 2^8 subsets only subsets of
{serverAuth, clientAuth} pass (the empty set cannot be encoded: RFC 5280 gives the SEQUENCE SIZE 1..MAX)."""

from __future__ import annotations

import itertools

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, assert_denied, csr_pem, make_request, uri_san
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certcsi.approver import evaluate

OIDS: dict[str, ObjectIdentifier] = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "1.3.6.1.4.1.99999.7": ObjectIdentifier("1.3.6.1.4.1.99999.7"),  # no cert-manager name
}
ALLOWED = {"server auth", "client auth"}
COMBINATIONS = [frozenset(c) for n in range(len(OIDS) + 1) for c in itertools.combinations(OIDS, n)]


def test_there_are_256_combinations() -> None:
    assert len(set(COMBINATIONS)) == 256


@pytest.mark.parametrize("names", COMBINATIONS, ids=lambda c: "+".join(sorted(c)) or "none")
def test_only_subsets_of_server_and_client_auth_pass(names: frozenset[str]) -> None:
    eku = x509.ExtendedKeyUsage([OIDS[n] for n in sorted(names)])
    verdict = evaluate(make_request(csr_pem(extensions=[uri_san(SPIFFE_ID), (eku, False)])), POLICY)
    if not names:
        assert_denied(verdict, "request", "malformed CSR extensions")
    elif names <= ALLOWED:
        assert_approved(verdict)
    else:
        assert_denied(verdict, "extended-key-usage", *sorted(names - ALLOWED))
