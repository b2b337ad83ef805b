"""Dropping a rule the install needs is visible to the user, end to end: the pod waits and says why,
or the request stays pending. (The minimal-RBAC tests prove every rule is needed; these show what
missing one looks like.)"""

from __future__ import annotations

import pytest
from rbac_lifecycle_support import decision
from rbac_proof_support import CONFIGS, Check, RuleVerb, rendered, rule_verbs
from rbac_run_support import APP_NAMESPACE, eventually, installed

from certcsi.sandbox.kubelet import PodNotReady


def _verb(name: str, verb: str, resource: str) -> RuleVerb:
    [found] = [
        rv for rv in rule_verbs(rendered(CONFIGS[name])) if rv.verb == verb and rv.rule["resources"] == [resource]
    ]
    return found


def _wanted(refused: list[Check]) -> set[tuple[str, str]]:
    return {want for check in refused for want in check.wants}


async def test_a_driver_that_may_not_create_requests_leaves_the_pod_waiting_with_the_reason() -> None:
    dropped = _verb("csi-driver", "create", "certificaterequests")
    async with installed(CONFIGS["csi-driver"], drop=[dropped]) as env:
        await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))
        with pytest.raises(PodNotReady, match=r'cannot create resource "certificaterequests"'):
            await env.kubelet.wait_ready(APP_NAMESPACE, "web", timeout=3)
        failed_mounts = [e["message"] for e in env.events(APP_NAMESPACE, "web", component="kubelet")]
        refused = [c for c in env.audit.checks(env.accounts) if not c.allowed]
    assert refused and _wanted(refused) == {("create", "certificaterequests")}
    assert any("is forbidden" in message for message in failed_mounts)


async def test_an_approver_that_may_not_write_the_status_leaves_the_request_pending() -> None:
    dropped = _verb("spiffe-issuer", "update", "certificaterequests/status")
    async with installed(CONFIGS["spiffe-issuer"], drop=[dropped]) as env:
        await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))

        def refused() -> list[Check]:
            return [c for c in env.audit.checks(env.accounts) if not c.allowed]

        await eventually(lambda: bool(refused()), timeout=10, what="the approver's refused status write")
        with pytest.raises(PodNotReady):
            await env.kubelet.wait_ready(APP_NAMESPACE, "web", timeout=2)
        requests = env.requests(APP_NAMESPACE)
    assert _wanted(refused()) == {("update", "certificaterequests/status")}
    assert requests and [decision(r) for r in requests] == [""] * len(requests)
