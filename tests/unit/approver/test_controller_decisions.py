"""What the controller writes: upstream's Approved / Denied conditions, and nothing for others' requests."""

from __future__ import annotations

from approver_support import OWN_SA_POLICY, POLICY, csr_pem, owner_pods, san, without
from controller_support import FakeApprovalApi, named, running, until
from cryptography import x509

from certcsi.approver.evaluator import Policy


async def test_a_correct_request_is_approved_with_upstreams_condition() -> None:
    api = FakeApprovalApi()
    api.put(named("good"))
    async with running(api, POLICY):
        await until(lambda: api.condition("good") is not None)

    condition = api.condition("good")
    assert condition is not None
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "Approved",
        "status": "True",
        "reason": "spiffe.csi.cert-manager.io",
        "message": "Approved request",
    }
    assert condition["lastTransitionTime"] == "1970-01-01T00:00:00Z"
    assert api.events == []  # by default only denials get an Event


async def test_events_follow_the_event_policy() -> None:
    for policy, expected in (
        ("all", [("good", "Normal", "Approved", "Approved request"), ("bad", "Warning", "Denied")]),
        ("denials", [("bad", "Warning", "Denied")]),
        ("none", []),
    ):
        api = FakeApprovalApi()
        api.put(named("good"))
        api.put(named("bad", username="system:serviceaccount:sandbox:intruder"))
        async with running(api, POLICY, events=policy):
            await until(lambda: api.condition("good") is not None and api.condition("bad") is not None)  # noqa: B023
            await until(lambda: True)
        recorded = sorted(event if event[2] == "Approved" else event[:3] for event in api.events)
        assert recorded == sorted(expected), policy


async def test_a_request_for_someone_elses_identity_is_denied_naming_the_rule() -> None:
    api = FakeApprovalApi()
    api.put(named("forged", username="system:serviceaccount:sandbox:intruder"))
    async with running(api, POLICY):
        await until(lambda: api.condition("forged") is not None)

    condition = api.condition("forged")
    assert condition is not None
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Denied",
        "True",
        "spiffe.csi.cert-manager.io",
    )
    assert condition["message"].startswith("Denied request: spiffe-id: unexpected SPIFFE ID requested")
    assert api.events[0][1:3] == ("Warning", "Denied")


async def test_requests_without_the_identity_annotation_are_left_alone() -> None:
    api = FakeApprovalApi()
    api.put(without(named("other"), "metadata", "annotations"))
    api.put(named("good"))
    async with running(api, POLICY):
        await until(lambda: api.condition("good") is not None)

    assert api.condition("other") is None
    assert api.writes_attempted == [("sandbox", "good")]


async def test_with_auto_approve_non_spiffe_others_requests_are_decided_too() -> None:
    api = FakeApprovalApi()
    dns_only = csr_pem(extensions=[san(x509.DNSName("web.example.com"))])
    plain = without(named("plain", csr=dns_only), "metadata", "annotations")
    plain["spec"]["issuerRef"] = {"name": "letsencrypt", "kind": "ClusterIssuer"}
    aimed_at_spiffe = without(named("sneaky", csr=dns_only), "metadata", "annotations")
    policy = Policy(trust_domain=POLICY.trust_domain, issuer_ref=POLICY.issuer_ref, auto_approve_non_spiffe=True)
    api.put(plain)
    api.put(aimed_at_spiffe)
    async with running(api, policy):
        await until(lambda: api.condition("plain") is not None and api.condition("sneaky") is not None)

    assert api.condition("plain") == {**api.condition("plain"), "type": "Approved"}  # type: ignore[dict-item]
    sneaky = api.condition("sneaky")
    assert sneaky is not None and sneaky["type"] == "Denied"
    assert "targeting configured SPIFFE issuer" in sneaky["message"]


async def test_decided_requests_are_never_written_again() -> None:
    api = FakeApprovalApi()
    decided = named("done")
    decided["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "someone", "message": "x"}]}
    api.put(decided)
    api.put(named("good"))
    async with running(api, POLICY):
        await until(lambda: api.condition("good") is not None)

    assert api.writes_attempted == [("sandbox", "good")]
    assert api.condition("done") == decided["status"]["conditions"][0]


async def test_other_conditions_already_on_the_request_are_kept() -> None:
    api = FakeApprovalApi()
    pending = named("good")
    ready = {"type": "Ready", "status": "False", "reason": "Pending", "message": "waiting for approval"}
    pending["status"] = {"conditions": [ready]}
    api.put(pending)
    async with running(api, POLICY):
        await until(lambda: api.condition("good") is not None)

    assert [c["type"] for c in api.request("good")["status"]["conditions"]] == ["Ready", "Approved"]
    assert api.request("good")["status"]["conditions"][0] == ready


async def test_own_service_account_mode_checks_the_live_owner_pod() -> None:
    api = FakeApprovalApi()
    api.add_pod("right", account="app")
    api.add_pod("wrong", account="intruder")
    for name in ("right", "wrong"):
        request = named(f"cr-{name}", username=OWN_SA_POLICY.own_service_account)
        request["metadata"]["ownerReferences"] = list(owner_pods(name))
        api.put(request)
    async with running(api, OWN_SA_POLICY):
        await until(lambda: api.condition("cr-right") is not None and api.condition("cr-wrong") is not None)

    assert api.condition("cr-right")["type"] == "Approved"  # type: ignore[index]
    wrong = api.condition("cr-wrong")
    assert wrong is not None and wrong["type"] == "Denied"
    assert "runs as sandbox/intruder" in wrong["message"]


async def test_a_recreated_pod_of_the_same_name_is_not_the_owner() -> None:
    api = FakeApprovalApi()
    api.add_pod("app-7d9c", account="app", uid="a-new-uid")
    request = named("cr", username=OWN_SA_POLICY.own_service_account)
    request["metadata"]["ownerReferences"] = list(owner_pods("app-7d9c"))
    api.put(request)
    async with running(api, OWN_SA_POLICY):
        await until(lambda: api.condition("cr") is not None)

    denied = api.condition("cr")
    assert denied is not None and denied["type"] == "Denied"
    assert "does not exist" in denied["message"]
