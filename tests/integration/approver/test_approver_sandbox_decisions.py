"""The approver in the sandbox: a correct SPIFFE request is approved and issued, a forged one denied."""

from __future__ import annotations

import base64

from approver_sandbox_support import (
    APP_NAMESPACE,
    POLICY,
    SPIFFE_ISSUER,
    TRUST_DOMAIN,
    ApproverWorld,
    eventually,
    request_body,
    spiffe_id,
)
from cryptography import x509

from certcsi.approver.evaluator import Policy


async def test_a_request_made_with_the_accounts_own_token_is_approved_and_issued(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    uri = spiffe_id(APP_NAMESPACE, "alice")
    running = await world.approver("replica-1")
    created = await world.submit(request_body("alice-1", uri), token=alice)
    assert created["spec"]["username"] == f"system:serviceaccount:{APP_NAMESPACE}:alice"

    await eventually(lambda: world.ready_reason("alice-1") == "Issued")

    decision = world.decision("alice-1")
    assert decision is not None
    assert (decision["type"], decision["status"], decision["reason"], decision["message"]) == (
        "Approved",
        "True",
        "spiffe.csi.cert-manager.io",
        "Approved request",
    )
    pem = base64.b64decode(world.stored("alice-1")["status"]["certificate"])
    leaf = x509.load_pem_x509_certificates(pem)[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == [uri]
    await running.stop()


async def test_an_identity_requested_with_another_accounts_token_is_denied(world: ApproverWorld) -> None:
    world.account(APP_NAMESPACE, "alice")
    bob = world.account(APP_NAMESPACE, "bob")
    running = await world.approver("replica-1")
    await world.submit(request_body("forged", spiffe_id(APP_NAMESPACE, "alice")), token=bob)

    await eventually(lambda: world.decision("forged") is not None)

    decision = world.decision("forged")
    assert decision is not None
    assert (decision["type"], decision["reason"]) == ("Denied", "spiffe.csi.cert-manager.io")
    assert decision["message"] == (
        "Denied request: spiffe-id: unexpected SPIFFE ID requested, "
        f"exp='spiffe://{TRUST_DOMAIN}/ns/{APP_NAMESPACE}/sa/bob' got='spiffe://{TRUST_DOMAIN}/ns/{APP_NAMESPACE}/sa/alice'"
    )
    await eventually(lambda: world.ready_reason("forged") == "Denied")  # cert-manager gives up on it
    assert "certificate" not in world.stored("forged")["status"]
    await running.stop()


async def test_a_request_without_the_identity_annotation_is_left_alone(world: ApproverWorld) -> None:
    carol = world.account(APP_NAMESPACE, "carol")
    running = await world.approver("replica-1")
    await world.submit(request_body("plain", None, annotated=False, issuer="letsencrypt"), token=carol)
    await world.submit(request_body("marker", spiffe_id(APP_NAMESPACE, "carol")), token=carol)

    await eventually(lambda: world.decision("marker") is not None)  # decided after "plain" was seen

    assert world.decision("plain") is None
    await running.stop()


async def test_with_auto_approve_non_spiffe_other_requests_are_decided(world: ApproverWorld) -> None:
    carol = world.account(APP_NAMESPACE, "carol")
    policy = Policy(trust_domain=POLICY.trust_domain, issuer_ref=SPIFFE_ISSUER, auto_approve_non_spiffe=True)
    world.approve_for_every_signer()
    running = await world.approver("replica-1", policy=policy)
    await world.submit(request_body("elsewhere", None, annotated=False, issuer="letsencrypt"), token=carol)
    await world.submit(request_body("aimed-at-spiffe", None, annotated=False), token=carol)
    hidden = request_body("hidden-spiffe", spiffe_id(APP_NAMESPACE, "carol"), annotated=False, issuer="letsencrypt")
    await world.submit(hidden, token=carol)
    names = ("elsewhere", "aimed-at-spiffe", "hidden-spiffe")

    await eventually(lambda: all(world.decision(name) is not None for name in names))

    elsewhere, aimed, hidden = (world.decision(name) or {} for name in names)
    assert (elsewhere["type"], elsewhere["message"]) == ("Approved", "Approved request")
    assert aimed["type"] == "Denied"
    assert "targeting configured SPIFFE issuer" in aimed["message"]
    assert hidden["type"] == "Denied"
    assert "contains SPIFFE URI SAN" in hidden["message"]
    await running.stop()
