"""The approver's metrics: decisions by rule, evaluation time, decision latency, leadership."""

from __future__ import annotations

from approver_support import POLICY
from controller_support import FakeApprovalApi, named, running, until
from prometheus_client.parser import text_string_to_metric_families

from certcsi.approver.metrics import ApproverMetrics


def _samples(metrics: ApproverMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_decisions_are_counted_by_decision_and_rule() -> None:
    api = FakeApprovalApi()
    api.put(named("good-1"))
    api.put(named("good-2"))
    api.put(named("forged", username="system:serviceaccount:sandbox:intruder"))
    api.put(named("long", duration="24h"))
    async with running(api, POLICY) as approver:
        await until(lambda: all(api.condition(n) is not None for n in ("good-1", "good-2", "forged", "long")))
        samples = _samples(approver.metrics)

    decisions = "certcsi_approver_decisions_total"
    assert samples[(decisions, (("decision", "approved"), ("rule", "approved")))] == 2
    assert samples[(decisions, (("decision", "denied"), ("rule", "spiffe-id")))] == 1
    assert samples[(decisions, (("decision", "denied"), ("rule", "duration")))] == 1
    assert samples[("certcsi_approver_evaluation_seconds_count", ())] == 4
    assert samples[("certcsi_approver_decision_latency_seconds_count", ())] == 4
    assert samples[("certcsi_approver_leader", ())] == 1


async def test_two_approvers_in_one_process_do_not_share_counters() -> None:
    first, second = FakeApprovalApi(), FakeApprovalApi()
    first.put(named("good"))
    async with running(first, POLICY) as one, running(second, POLICY) as two:
        await until(lambda: first.condition("good") is not None)
        assert (
            _samples(one.metrics)[
                ("certcsi_approver_decisions_total", (("decision", "approved"), ("rule", "approved")))
            ]
            == 1
        )
        assert ("certcsi_approver_decisions_total", (("decision", "approved"), ("rule", "approved"))) not in _samples(
            two.metrics
        )


async def test_the_leader_gauge_drops_to_zero_on_stop() -> None:
    api = FakeApprovalApi()
    async with running(api, POLICY) as approver:
        assert _samples(approver.metrics)[("certcsi_approver_leader", ())] == 1
    assert _samples(approver.metrics)[("certcsi_approver_leader", ())] == 0
