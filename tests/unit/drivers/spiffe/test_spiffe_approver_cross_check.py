"""The driver's own requests, as the engine sends them, are approved by the approver's evaluator;
the same request made with another account's token is denied."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from spiffe_support import NS, POD, SA, driver, volume

from certcsi.approver import Policy, evaluate
from certcsi.drivers.spiffe import SpiffeDriver
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.volumes.driver import RequestPlan
from certcsi.volumes.issuance import build_request_body

DRIVER_SA = "system:serviceaccount:cert-manager:csi-driver-spiffe"


async def _as_created(d: SpiffeDriver, *, username: str) -> tuple[RequestPlan, dict[str, Any]]:
    """The body the engine creates, plus the spec.username cert-manager's webhook records."""
    v = volume()
    plan = d.build_request(v, await d.generate_key(v, None))
    body = build_request_body(volume=v, plan=plan, name="csi-abc", node_hash="n")
    body["spec"]["username"] = username
    return plan, body


async def test_a_pod_request_is_approved() -> None:
    _, body = await _as_created(driver(), username=f"system:serviceaccount:{NS}:{SA}")
    verdict = evaluate(body, Policy(trust_domain="cluster.local"))
    assert (verdict.approved, verdict.reason) == (True, "Approved request")


async def test_flags_that_agree_on_both_sides_still_approve() -> None:
    d = driver(trust_domain="foo.bar", certificate_duration=timedelta(minutes=20))
    _, body = await _as_created(d, username=f"system:serviceaccount:{NS}:{SA}")
    assert evaluate(body, Policy(trust_domain="foo.bar", certificate_duration=timedelta(minutes=20))).approved


async def test_a_request_made_with_another_accounts_token_is_denied() -> None:
    _, body = await _as_created(driver(), username=f"system:serviceaccount:{NS}:other")
    verdict = evaluate(body, Policy(trust_domain="cluster.local"))
    assert (verdict.approved, verdict.rule) == (False, "spiffe-id")


async def test_an_own_service_account_request_is_approved_for_its_pod() -> None:
    _, body = await _as_created(driver(use_own_service_account=True), username=DRIVER_SA)
    policy = Policy(trust_domain="cluster.local", own_service_account=DRIVER_SA)
    verdict = evaluate(body, policy, pod_identity=lambda ns, name: (NS, SA) if (ns, name) == (NS, POD) else None)
    assert verdict.approved is True, verdict


def test_a_driver_with_another_key_type_would_be_denied() -> None:
    # The evaluator really looks at the key: an RSA CSR through the same plan is refused.
    d, v = driver(), volume()
    plan = d.build_request(v, generate_private_key(KeySpec("RSA", 2048)))
    body = build_request_body(volume=v, plan=replace(plan), name="csi-abc", node_hash="n")
    body["spec"]["username"] = f"system:serviceaccount:{NS}:{SA}"
    verdict = evaluate(body, Policy(trust_domain="cluster.local"))
    assert (verdict.approved, verdict.rule) == (False, "key-type")
