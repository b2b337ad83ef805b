"""Requests without the identity annotation: ignored, or with --auto-approve-non-spiffe decided."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, assert_denied, b64, csr_pem, make_request, uri_san

from certcsi.approver import evaluate
from certcsi.volumes.driver import IssuerRef

AUTO = replace(POLICY, auto_approve_non_spiffe=True)
OTHER_ISSUER = {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}
PLAIN_CSR = csr_pem(extensions=[uri_san("https://app.example.com/")])


def plain_request(csr: bytes = PLAIN_CSR, **spec: Any) -> dict[str, Any]:
    spec.setdefault("issuerRef", OTHER_ISSUER)
    request = make_request(csr, **spec)
    del request["metadata"]["annotations"]
    return request


def test_without_the_flag_unannotated_requests_are_not_ours() -> None:
    verdict = evaluate(plain_request(), POLICY)
    assert (verdict.approved, verdict.rule) == (None, "not-spiffe")


def test_an_unannotated_request_to_another_issuer_is_approved() -> None:
    verdict = evaluate(plain_request(duration="90d", usages=["cert sign"], isCA=True), AUTO)
    assert_approved(verdict)
    assert verdict.rule == "approved-non-spiffe"


def test_an_unannotated_request_to_the_spiffe_issuer_is_denied() -> None:
    verdict = evaluate(plain_request(issuerRef={"name": "spiffe-ca", "kind": "ClusterIssuer"}), AUTO)
    assert_denied(verdict, "non-spiffe-issuer", "non-SPIFFE certificate targeting configured SPIFFE issuer")


@pytest.mark.parametrize(
    "ref",
    [
        {"name": "ca"},
        {"name": "ca", "kind": ""},
        {"name": "ca", "kind": "Issuer", "group": ""},
        {"name": "ca", "group": "cert-manager.io"},
    ],
)
def test_issuer_ref_defaults_are_normalised_before_comparing(ref: dict[str, str]) -> None:
    policy = replace(AUTO, issuer_ref=IssuerRef(name="ca", kind="Issuer", group="cert-manager.io"))
    assert_denied(evaluate(plain_request(issuerRef=ref), policy), "non-spiffe-issuer", "targeting configured SPIFFE")


def test_the_policy_issuer_is_normalised_too() -> None:
    policy = replace(AUTO, issuer_ref=IssuerRef(name="ca", kind="", group=""))
    verdict = evaluate(plain_request(issuerRef={"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}), policy)
    assert_denied(verdict, "non-spiffe-issuer")


@pytest.mark.parametrize(
    "ref", [{"name": "spiffe-ca", "kind": "Issuer"}, {"name": "spiffe-ca", "kind": "ClusterIssuer", "group": "x.io"}]
)
def test_same_name_other_kind_or_group_is_another_issuer(ref: dict[str, str]) -> None:
    assert_approved(evaluate(plain_request(issuerRef=ref), AUTO))


@pytest.mark.parametrize("uri", [SPIFFE_ID, "spiffe://other.domain/x", "SPIFFE://cluster.local/ns/a/sa/b"])
def test_an_unannotated_request_with_a_spiffe_uri_is_denied(uri: str) -> None:
    verdict = evaluate(plain_request(csr_pem(extensions=[uri_san("https://a.example/", uri)])), AUTO)
    assert_denied(verdict, "non-spiffe-uri", "non-SPIFFE certificate request contains SPIFFE URI SAN")


def test_an_unannotated_request_with_an_unparsable_csr_is_denied() -> None:
    assert_denied(evaluate(plain_request(request=b64(b"junk")), AUTO), "request")


@pytest.mark.parametrize("ref", [None, "ca", {"kind": "Issuer"}, {"name": ""}, {"name": "ca", "kind": 3}])
def test_a_malformed_issuer_ref_is_denied(ref: object) -> None:
    assert_denied(evaluate(plain_request(issuerRef=ref), AUTO), "non-spiffe-issuer", "spec.issuerRef is malformed")


def test_without_a_known_spiffe_issuer_nothing_unannotated_is_approved() -> None:
    policy = replace(AUTO, issuer_ref=None)
    assert_denied(evaluate(plain_request(), policy), "non-spiffe-issuer", "no SPIFFE issuer is configured")


def test_annotated_requests_are_still_fully_checked_with_the_flag() -> None:
    assert_approved(evaluate(make_request(), AUTO))
    assert_denied(evaluate(make_request(duration="2h"), AUTO), "duration")
