"""The approver's Prometheus metrics, in a registry of their own (two approvers in one process, as
tests run them, must not share counters).

    certcsi_approver_decisions_total{decision="approved|denied", rule}   verdicts written
    certcsi_approver_evaluation_seconds                                  one evaluation, CPU only
    certcsi_approver_decision_latency_seconds                            creation -> condition written
    certcsi_approver_retries_total{cause}                                requests put back for later
    certcsi_approver_leader                                              1 while this replica leads

`rule` is one of the evaluator's fixed rule ids, so every label set is small and bounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "RETRY_CAUSES", "ApproverMetrics"]

RETRY_CAUSES: tuple[str, ...] = ("pod-lookup", "conflict", "rejected", "api-error", "not-leader")

_EVALUATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class ApproverMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.decisions = Counter(
            "certcsi_approver_decisions",
            "CertificateRequests decided by this approver, by decision and by the rule that decided.",
            ["decision", "rule"],
            registry=self.registry,
        )
        self.evaluation_seconds = Histogram(
            "certcsi_approver_evaluation_seconds",
            "Time to evaluate one CertificateRequest (parsing, signature, every rule).",
            buckets=_EVALUATION_BUCKETS,
            registry=self.registry,
        )
        self.decision_latency_seconds = Histogram(
            "certcsi_approver_decision_latency_seconds",
            "From a CertificateRequest's creationTimestamp to its Approved or Denied condition being written.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "certcsi_approver_retries",
            "CertificateRequests put back to be decided later, by cause.",
            ["cause"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "certcsi_approver_leader",
            "1 while this replica holds the leader election lease and approves, else 0.",
            registry=self.registry,
        )
        for cause in RETRY_CAUSES:
            self.retries.labels(cause=cause)

    def decided(self, *, approved: bool, rule: str) -> None:
        self.decisions.labels(decision="approved" if approved else "denied", rule=rule).inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (what /metrics serves)."""
        return generate_latest(self.registry)
