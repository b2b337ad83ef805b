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


def test_a_scrape_by_name_takes_the_series_names_the_text_shows() -> None:
    # --metrics-bind-address's help: /metrics?name[]=<name> serves the series of that name, a counter's with
    # its _total, as prometheus_client's own server does; the family's bare name matches nothing.
    from prometheus_client import CollectorRegistry

    metrics = ApproverMetrics(workers=1, registry=CollectorRegistry())
    named_total = metrics.exposition(frozenset({"controller_runtime_reconcile_total"})).decode()
    assert [family.name for family in text_string_to_metric_families(named_total)] == ["controller_runtime_reconcile"]
    assert "certcsi_approver_leader" not in named_total
    assert metrics.exposition(frozenset({"controller_runtime_reconcile"})) == b""


def test_the_metrics_flag_help_says_what_a_name_filter_takes() -> None:
    from click.testing import CliRunner

    from certcsi.cli import main

    help_text = " ".join(CliRunner().invoke(main, ["approver", "--help"]).output.split())
    assert "/metrics?name[]=<name> (repeatable) serves only the series of those names" in help_text
