"""Condition messages are upstream's ("Approved request", "Denied request: <why>") and stay readable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_denied, csr_pem, make_request, san
from cryptography import x509

from certcsi.approver import APPROVED_MESSAGE, CONDITION_REASON, DENIED_PREFIX, Policy, evaluate


def test_the_condition_vocabulary_is_upstreams() -> None:
    assert CONDITION_REASON == "spiffe.csi.cert-manager.io"
    assert APPROVED_MESSAGE == "Approved request"
    assert DENIED_PREFIX == "Denied request: "


def test_an_approval_says_approved_request() -> None:
    verdict = evaluate(make_request(), POLICY)
    assert (verdict.approved, verdict.reason, verdict.rule) == (True, "Approved request", "approved")


def test_a_denial_names_its_rule_after_the_prefix() -> None:
    verdict = evaluate(make_request(isCA=True), POLICY)
    assert verdict.reason == "Denied request: is-ca: request contains spec.isCA=true"


def test_a_huge_requester_value_is_cut_short() -> None:
    name = "a" * 5000 + ".example"
    pem = csr_pem(extensions=[san(x509.UniformResourceIdentifier(SPIFFE_ID), x509.DNSName(name))])
    verdict = evaluate(make_request(pem), POLICY)
    assert_denied(verdict, "names", "(truncated)")
    assert len(verdict.reason) < 400


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"trust_domain": ""}, "trust domain"),
        ({"trust_domain": "Cluster.Local"}, "trust domain"),
        ({"trust_domain": "td", "certificate_duration": timedelta(0)}, "certificate_duration"),
        ({"trust_domain": "td", "own_service_account": "csi-driver-spiffe"}, "own_service_account"),
        ({"trust_domain": "td", "own_service_account": "system:serviceaccount:ns"}, "own_service_account"),
    ],
)
def test_a_policy_that_breaks_a_rule_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Policy(**kwargs)  # type: ignore[arg-type]
