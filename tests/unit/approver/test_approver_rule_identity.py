"""Rule 8 (username, uri-count, uri-scheme, spiffe-id): the one URI SAN is the requester's own SPIFFE ID."""

from __future__ import annotations

import pytest
from approver_support import (
    POLICY,
    SPIFFE_ID,
    assert_approved,
    assert_denied,
    csr_pem,
    make_request,
    uri_san,
    without,
)

from certcsi.approver import evaluate


def test_the_requesters_own_id_passes() -> None:
    assert_approved(evaluate(make_request(csr_pem(extensions=[uri_san(SPIFFE_ID)])), POLICY))


@pytest.mark.parametrize(
    "username",
    [
        "kubernetes-admin",
        "system:serviceaccount:sandbox",
        "system:serviceaccount:sandbox:app:extra",
        "system:node:sandbox:app",
        "system:serviceaccount::app",
        "system:serviceaccount:sandbox:",
        "",
        None,
        42,
    ],
)
def test_a_username_that_is_not_a_service_account_is_denied(username: object) -> None:
    verdict = evaluate(make_request(username=username), POLICY)
    assert_denied(verdict, "username", "non-serviceaccount encoded username")


def test_a_missing_username_is_denied() -> None:
    assert_denied(evaluate(without(make_request(), "spec", "username"), POLICY), "username")


def test_no_uri_is_denied() -> None:
    assert_denied(evaluate(make_request(csr_pem(extensions=[])), POLICY), "uri-count", "got=0")


def test_two_uris_are_denied_even_if_one_is_right() -> None:
    pem = csr_pem(extensions=[uri_san(SPIFFE_ID, "spiffe://cluster.local/ns/sandbox/sa/other")])
    assert_denied(evaluate(make_request(pem), POLICY), "uri-count", "got=2")


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [("https://cluster.local/ns/sandbox/sa/app", "'https'"), ("SPIFFE://cluster.local/ns/sandbox/sa/app", "'SPIFFE'")],
)
def test_a_uri_that_is_not_spiffe_is_denied(uri: str, scheme: str) -> None:
    verdict = evaluate(make_request(csr_pem(extensions=[uri_san(uri)])), POLICY)
    assert_denied(verdict, "uri-scheme", f"URI scheme is not spiffe: {scheme}")


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://cluster.local/ns/sandbox/sa/admin",  # someone else's account
        "spiffe://cluster.local/ns/kube-system/sa/app",  # same name, other namespace
        "spiffe://evil.example/ns/sandbox/sa/app",  # other trust domain
        "spiffe://cluster.local/ns/sandbox/sa/app/",
        "spiffe://cluster.local/ns/sandbox/sa/app?x=1",
        "spiffe://CLUSTER.LOCAL/ns/sandbox/sa/app",
        "spiffe://cluster.local/ns/sandbox/sa/%61pp",
    ],
)
def test_any_other_spiffe_id_is_denied(uri: str) -> None:
    verdict = evaluate(make_request(csr_pem(extensions=[uri_san(uri)])), POLICY)
    assert_denied(verdict, "spiffe-id", f"exp={SPIFFE_ID!r}", repr(uri))


def test_a_request_made_with_another_accounts_token_is_denied() -> None:
    # The forged request: B's token (so B's username) asking for A's identity.
    verdict = evaluate(make_request(username="system:serviceaccount:sandbox:b"), POLICY)
    assert_denied(verdict, "spiffe-id", "exp='spiffe://cluster.local/ns/sandbox/sa/b'")
