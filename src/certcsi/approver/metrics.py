"""The approver's Prometheus metrics, in a registry of their own (two approvers in one process, as
tests run them, must not share counters).

What controller-runtime exposes for upstream's approver (same names, labels, help texts and buckets,
`controller` and `name` both "certificaterequest", the controller's name for CertificateRequests):

    controller_runtime_reconcile_total{controller, result}      result: success | error | requeue | requeue_after
    controller_runtime_reconcile_errors_total{controller}
    controller_runtime_terminal_reconcile_errors_total{controller}   requests given up on (skipped)
    controller_runtime_reconcile_panics_total{controller}       unexpected exceptions
    controller_runtime_reconcile_time_seconds{controller}
    controller_runtime_max_concurrent_reconciles{controller}    --workers
    controller_runtime_active_workers{controller}
    workqueue_depth{name, controller, priority}                 priority "" (not split by priority)
    workqueue_adds_total, workqueue_retries_total{name, controller}
    workqueue_queue_duration_seconds, workqueue_work_duration_seconds{name, controller}
    workqueue_unfinished_work_seconds, workqueue_longest_running_processor_seconds{name, controller}
    leader_election_master_status{name}                         name: the Lease

certcsi's own:

    certcsi_approver_decisions_total{decision="approved|denied", rule}   verdicts written
    certcsi_approver_evaluation_seconds                                  one evaluation, CPU only
    certcsi_approver_decision_latency_seconds                            creation -> condition written
    certcsi_approver_retries_total{cause}                                requests put back for later
    certcsi_approver_skipped_requests                                    undecidable requests set aside
    certcsi_approver_leader                                              1 while this replica leads

`rule` is one of the evaluator's fixed rule ids, so every label set is small and bounded. The
gauges of the work queue are read from it at scrape time (`watch_queue`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from certcsi.observability.registry import process_registry

__all__ = ["CONTENT_TYPE_LATEST", "CONTROLLER", "RESULTS", "RETRY_CAUSES", "ApproverMetrics", "Result"]

# controller-runtime names a controller built `For(&CertificateRequest{})` after the kind, lowercased.
CONTROLLER = "certificaterequest"
Result = Literal["success", "error", "requeue", "requeue_after"]
RESULTS: tuple[Result, ...] = ("error", "requeue_after", "requeue", "success")
RETRY_CAUSES: tuple[str, ...] = ("pod-lookup", "conflict", "rejected", "api-error", "not-leader")

_EVALUATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# controller-runtime's, so that dashboards' histogram_quantile() sees the same boundaries.
_RECONCILE_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60),
)
# prometheus.ExponentialBuckets(10e-9, 10, 12), written out so no float drift shows in `le`.
_WORKQUEUE_BUCKETS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)

_UNFINISHED_HELP = (
    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. "
    "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate "
    "at which this increases."
)
_LEADER_HELP = (
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
    "'name' is the string used to identify the lease. Please make sure to group by name."
)


class QueueGauges(Protocol):
    """What the work queue's gauges read (`approver.queueing.WorkQueue` implements it)."""

    def __len__(self) -> int: ...

    def running_for(self) -> list[float]: ...


class ApproverMetrics:
    """Every metric of one approver; also the work queue's `QueueObserver`."""

    def __init__(self, *, workers: int, lease: str | None = None, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else process_registry()
        self._controller_metrics(workers)
        self._workqueue_metrics()
        self._own_metrics()
        self._lease = (
            Gauge("leader_election_master_status", _LEADER_HELP, ["name"], registry=self.registry).labels(name=lease)
            if lease is not None
            else None
        )

    def _controller_metrics(self, workers: int) -> None:
        def counter(name: str, help_text: str) -> Counter:
            return Counter(name, help_text, ["controller"], registry=self.registry).labels(controller=CONTROLLER)

        self.reconciles = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=self.registry,
        )
        for result in RESULTS:
            self.reconciles.labels(controller=CONTROLLER, result=result)
        self.reconcile_errors = counter(
            "controller_runtime_reconcile_errors_total", "Total number of reconciliation errors per controller"
        )
        self.terminal_errors = counter(
            "controller_runtime_terminal_reconcile_errors_total",
            "Total number of terminal reconciliation errors per controller",
        )
        self.panics = counter(
            "controller_runtime_reconcile_panics_total", "Total number of reconciliation panics per controller"
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=_RECONCILE_BUCKETS,
            registry=self.registry,
        ).labels(controller=CONTROLLER)
        Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=self.registry,
        ).labels(controller=CONTROLLER).set(workers)
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=self.registry,
        ).labels(controller=CONTROLLER)

    def _workqueue_metrics(self) -> None:
        labels = ["name", "controller"]

        def histogram(name: str, help_text: str) -> Histogram:
            return Histogram(name, help_text, labels, buckets=_WORKQUEUE_BUCKETS, registry=self.registry)

        self._adds = Counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", labels, registry=self.registry
        ).labels(CONTROLLER, CONTROLLER)
        self._retries = Counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", labels, registry=self.registry
        ).labels(CONTROLLER, CONTROLLER)
        self._queue_duration = histogram(
            "workqueue_queue_duration_seconds", "How long in seconds an item stays in workqueue before being requested"
        ).labels(CONTROLLER, CONTROLLER)
        self._work_duration = histogram(
            "workqueue_work_duration_seconds", "How long in seconds processing an item from workqueue takes."
        ).labels(CONTROLLER, CONTROLLER)

    def _own_metrics(self) -> None:
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
        for cause in RETRY_CAUSES:
            self.retries.labels(cause=cause)
        self.skipped = Gauge(
            "certcsi_approver_skipped_requests",
            "Undecided CertificateRequests set aside because their decision was refused (RBAC or cert-manager's "
            "webhook) every time it was written; looked at again when they change, or after the backoff cap.",
            registry=self.registry,
        )
        self.leader = Gauge(
            "certcsi_approver_leader",
            "1 while this replica holds the leader election lease and approves, else 0.",
            registry=self.registry,
        )

    # -- what the controller reports ----------------------------------------------------------------

    def reconciled(self, result: Result, *, seconds: float, terminal: bool = False, panic: bool = False) -> None:
        """One pass over one request, as controller-runtime counts a Reconcile call."""
        self.reconciles.labels(controller=CONTROLLER, result=result).inc()
        self.reconcile_time.observe(seconds)
        if result == "error":
            self.reconcile_errors.inc()
        if terminal:
            self.terminal_errors.inc()
        if panic:
            self.panics.inc()

    def decided(self, *, approved: bool, rule: str) -> None:
        self.decisions.labels(decision="approved" if approved else "denied", rule=rule).inc()

    def leading(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)
        if self._lease is not None:
            self._lease.set(1 if leading else 0)

    # -- the work queue's QueueObserver --------------------------------------------------------------

    def added(self) -> None:
        self._adds.inc()

    def waited(self, seconds: float) -> None:
        self._queue_duration.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._work_duration.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()

    def watch_queue(self, queue: QueueGauges) -> None:
        """Serve the queue's depth and running times, read from it at each scrape."""
        self.registry.register(_QueueCollector(lambda: queue))

    def exposition(self, names: frozenset[str] = frozenset()) -> bytes:
        """The registry in Prometheus' text format (what /metrics serves); only the series named in `names` if any."""
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry)

    async def scrape(self, names: frozenset[str] = frozenset()) -> list[bytes]:
        """`exposition(names)` as /metrics serves it: one chunk (no series per request here, the text is small)."""
        return [self.exposition(names)]


class _QueueCollector(Collector):
    def __init__(self, queue: Callable[[], QueueGauges]) -> None:
        self._queue = queue

    def describe(self) -> Iterable[Metric]:
        return self._families()  # registering must not read the queue

    def collect(self) -> Iterable[Metric]:
        depth, unfinished, longest = self._families()
        queue = self._queue()
        running = queue.running_for()
        depth.add_metric([CONTROLLER, CONTROLLER, ""], len(queue))
        unfinished.add_metric([CONTROLLER, CONTROLLER], sum(running))
        longest.add_metric([CONTROLLER, CONTROLLER], max(running, default=0.0))
        return [depth, unfinished, longest]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        labels = ["name", "controller"]
        return (
            GaugeMetricFamily(
                "workqueue_depth",
                "Current depth of workqueue by workqueue and priority",
                labels=[*labels, "priority"],
            ),
            GaugeMetricFamily("workqueue_unfinished_work_seconds", _UNFINISHED_HELP, labels=labels),
            GaugeMetricFamily(
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
                labels=labels,
            ),
        )
