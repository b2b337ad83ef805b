"""Writes at a stale resourceVersion: re-read, re-evaluate, write again (or let go)."""

from __future__ import annotations

from approver_support import POLICY
from controller_support import FakeApprovalApi, named, running, until

from certcsi.errors import KubernetesError


async def test_a_request_changed_while_deciding_is_re_read_and_decided_at_its_new_version() -> None:
    api = FakeApprovalApi()
    api.put(named("good"))
    touched: list[str] = []

    async def someone_edits_it_first(namespace: str, name: str) -> None:
        if not touched:
            touched.append(name)
            changed = api.request(name)
            changed["metadata"].setdefault("labels", {})["touched"] = "yes"
            api.put(changed)

    api.before_write = someone_edits_it_first
    async with running(api, POLICY) as approver:
        await until(lambda: api.condition("good") is not None)
        assert approver.metrics.retries.labels(cause="conflict")._value.get() == 1

    assert len(api.writes_attempted) == 2
    assert api.request("good")["metadata"]["labels"] == {"touched": "yes"}
    assert [c["type"] for c in api.request("good")["status"]["conditions"]] == ["Approved"]


async def test_a_request_another_approver_decided_meanwhile_is_let_go() -> None:
    api = FakeApprovalApi()
    api.put(named("good"))
    other = {"type": "Denied", "status": "True", "reason": "policy.cert-manager.io", "message": "no"}

    async def another_approver_is_faster(namespace: str, name: str) -> None:
        if len(api.writes_attempted) == 1:
            decided = api.request(name)
            decided["status"] = {"conditions": [other]}
            api.put(decided)

    api.before_write = another_approver_is_faster
    async with running(api, POLICY) as approver:
        await until(lambda: approver.pending == 0 and len(api.writes_attempted) == 1)
        for _ in range(50):
            await until(lambda: True)

    assert api.condition("good") == other
    assert len(api.writes_attempted) == 1
    assert api.events == []


async def test_a_request_deleted_while_deciding_is_dropped() -> None:
    api = FakeApprovalApi()
    api.put(named("gone"))

    async def deleted(namespace: str, name: str) -> None:
        api.requests.pop((namespace, name), None)

    api.before_write = deleted
    async with running(api, POLICY) as approver:
        await until(lambda: len(api.writes_attempted) == 1 and approver.pending == 0)

    assert api.events == []
    assert approver.metrics.retries.labels(cause="api-error")._value.get() == 0


async def test_a_refused_write_of_an_unchanged_request_is_retried_as_rejected() -> None:
    api = FakeApprovalApi()
    api.put(named("good"))
    refusals = [KubernetesError('user "x" does not have permissions to set approved/denied conditions', status=422)]

    async def refuse_once(namespace: str, name: str) -> None:
        if refusals:
            raise refusals.pop()

    api.before_write = refuse_once
    async with running(api, POLICY) as approver:
        await until(lambda: approver.metrics.retries.labels(cause="rejected")._value.get() == 1)
        assert api.condition("good") is None

    assert approver.metrics.retries.labels(cause="conflict")._value.get() == 0
