"""The Prometheus metrics of one node driver process, in a registry of its own.

Upstream's csi-lib names, types, labels and help texts (so dashboards and alerts written for the Go
drivers work):

    certmanager_csi_issue_requests_total{node, volume}            issuance attempts (first, renewal, retry)
    certmanager_csi_issue_errors_total{node, volume}              attempts that ended without a certificate
    certmanager_csi_certificate_request_ready_status{name, namespace, condition, issuer_name, issuer_kind,
        issuer_group}                                             1 for the request's Ready status, 0 for the
                                                                  other two of True / False / Unknown
    certmanager_csi_certificate_request_expiration_timestamp_seconds{name, namespace, issuer_*}
                                                                  not-after of the request's certificate (0: none)
    certmanager_csi_certificate_request_renewal_timestamp_seconds{name, namespace, issuer_*}
                                                                  next issuance of the request's volume (0: none)
    certmanager_csi_managed_volume_count{node}                    volumes this driver manages
    certmanager_csi_managed_certificate_request_count{node}       their CertificateRequests in the watch cache

`node` is csi-lib's hash of the node id (the `csi.cert-manager.io/node-id-hash` label value);
`volume` the volume id; the `issuer_*` labels are the request's own `spec.issuerRef`, as upstream
takes them, whether the request is pending, failed or issued. Cardinality follows upstream and no
further: per-volume series only on the two issue counters (removed when the volume is unpublished,
where upstream keeps them forever), per-request series on the three request gauges (one request per
volume by default). Differences from upstream: `managed_volume_count` counts every managed volume,
including one published with --continue-on-not-ready that has no certificate yet (upstream counts
volumes with a next issuance time); `managed_certificate_request_count` and the request gauges cover
the requests of managed volumes (upstream: every request carrying the node's label); a renewal held
back by unmet readiness gates is no issuance attempt here (upstream counts a call and an error).

certcsi's own, all without per-volume labels:

    certcsi_time_to_first_certificate_seconds        first NodePublishVolume -> first certificate written
    certcsi_issuance_duration_seconds                one successful issuance, key generation -> files written
    certcsi_renewals_total                           certificates replaced by a renewal
    certcsi_issuance_failures_total{reason}          failed attempts: Denied, Failed, Timeout, IssuerUnavailable,
                                                     Kubernetes, Invalid, NotReady, Internal
    certcsi_certificates_in_renewal_window           renewal time reached, certificate not yet replaced nor expired
    certcsi_certificates_expired                     certificates past their not-after, still awaiting renewal
    certcsi_pod_events_dropped_total{reason}         Pod events not recorded: backlog, forbidden, error, shutdown
    certcsi_key_pool_keys{key_type}                  private keys made ahead and waiting in memory
    certcsi_key_pool_taken_total{key_type, source}   fresh keys handed out: from the pool, or made on demand

Plus the process and Python runtime collectors (`observability.registry`), and no `*_created` series.
Every gauge is computed at scrape time from the engine's memory (`EngineCollector`): no timer, no
work at all between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from certcsi.errors import (
    InvalidVolume,
    IssuanceDenied,
    IssuanceFailed,
    IssuanceTimeout,
    IssuerUnavailable,
    KubernetesError,
    NotReady,
)
from certcsi.observability.events import DROP_REASONS
from certcsi.observability.registry import process_registry
from certcsi.pki.keypool import PoolStats
from certcsi.volumes.driver import IssuerRef, Volume
from certcsi.volumes.issuance import RequestState
from certcsi.volumes.reporting import VolumeView

__all__ = [
    "FAILURE_REASONS",
    "EngineCollector",
    "EngineView",
    "KeyCounts",
    "NodeMetrics",
    "RequestsView",
    "failure_reason",
]

FAILURE_REASONS: tuple[str, ...] = (
    "Denied",
    "Failed",
    "Timeout",
    "IssuerUnavailable",
    "Kubernetes",
    "Invalid",
    "NotReady",
    "Internal",
)
_REASON_OF: tuple[tuple[type[BaseException], str], ...] = (
    (IssuanceDenied, "Denied"),
    (IssuanceFailed, "Failed"),
    (IssuanceTimeout, "Timeout"),
    (IssuerUnavailable, "IssuerUnavailable"),
    (KubernetesError, "Kubernetes"),
    (InvalidVolume, "Invalid"),
    (NotReady, "NotReady"),
)
_CONDITIONS = ("True", "False", "Unknown")
_NO_ISSUER = IssuerRef(name="", kind="", group="")
_REQUEST_LABELS = ["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"]

# Issuance takes from well under a second (a CA issuer) to minutes (an ACME or a human approver).
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def failure_reason(error: BaseException) -> str:
    """The `reason` label of a failed attempt (one of FAILURE_REASONS)."""
    return next((reason for kind, reason in _REASON_OF if isinstance(error, kind)), "Internal")


class EngineView(Protocol):
    """What the collector reads from the engine (`Manager` implements it)."""

    def snapshot(self) -> list[VolumeView]: ...


class RequestsView(Protocol):
    """A volume's CertificateRequests from the watch cache (`Issuance` implements it)."""

    def requests_of(self, volume: Volume) -> list[RequestState]: ...


class NodeMetrics:
    """The node process's registry: upstream's counters, ours, and (once attached) the engine's gauges."""

    def __init__(
        self, *, node_hash: str, registry: CollectorRegistry | None = None, keys: KeyCounts | None = None
    ) -> None:
        self.node_hash = node_hash
        self.registry = registry if registry is not None else process_registry()
        self.issue_requests = Counter(
            "certmanager_csi_issue_requests",
            "The number of issue() calls made by the driver.",
            ["node", "volume"],
            registry=self.registry,
        )
        self.issue_errors = Counter(
            "certmanager_csi_issue_errors",
            "The number of errors encountered during the driver issue() calls.",
            ["node", "volume"],
            registry=self.registry,
        )
        self.time_to_first_certificate = Histogram(
            "certcsi_time_to_first_certificate_seconds",
            "From a volume's first NodePublishVolume to its first certificate being written.",
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.issuance_duration = Histogram(
            "certcsi_issuance_duration_seconds",
            "One successful issuance, from key generation to the files being written.",
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.renewals = Counter(
            "certcsi_renewals",
            "Certificates replaced by a renewal (not counting first issuances).",
            registry=self.registry,
        )
        self.failures = Counter(
            "certcsi_issuance_failures",
            "Issuance attempts that ended without a certificate, by reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in FAILURE_REASONS:
            self.failures.labels(reason=reason)
        self.pod_events_dropped = Counter(
            "certcsi_pod_events_dropped",
            "Pod events not recorded, by reason: backlog (queue full), forbidden (RBAC), error, shutdown.",
            ["reason"],
            registry=self.registry,
        )
        for reason in DROP_REASONS:
            self.pod_events_dropped.labels(reason=reason)
        if keys is not None:
            self.registry.register(KeyPoolCollector(keys))

    def events_dropped(self, reason: str, count: int) -> None:
        self.pod_events_dropped.labels(reason=reason).inc(count)

    def attach(
        self,
        *,
        engine: EngineView,
        requests: RequestsView | None,
        now: Callable[[], datetime],
    ) -> None:
        """Serve the gauges computed from `engine` (and its requests, with their issuers) at each scrape."""
        collector = EngineCollector(node_hash=self.node_hash, engine=engine, requests=requests, now=now)
        self.registry.register(collector)

    def issuing(self, volume_id: str) -> None:
        self.issue_requests.labels(node=self.node_hash, volume=volume_id).inc()

    def failed(self, volume_id: str, error: BaseException) -> None:
        self.issue_errors.labels(node=self.node_hash, volume=volume_id).inc()
        self.failures.labels(reason=failure_reason(error)).inc()

    def forget(self, volume_id: str) -> None:
        """Drop a volume's series (unpublished), so a long-lived node does not pile up dead volumes."""
        for counter in (self.issue_requests, self.issue_errors):
            counter.remove(self.node_hash, volume_id)  # a no-op for a volume never counted

    def exposition(self, names: frozenset[str] = frozenset()) -> bytes:
        """The registry in Prometheus' text format (what /metrics serves); only the `names` families if any."""
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry)


class EngineCollector(Collector):
    """The gauges, computed from the engine's memory on each scrape (and never in between)."""

    def __init__(
        self,
        *,
        node_hash: str,
        engine: EngineView,
        requests: RequestsView | None,
        now: Callable[[], datetime],
    ) -> None:
        self._node = node_hash
        self._engine = engine
        self._requests = requests
        self._now = now

    def describe(self) -> Iterable[Metric]:
        # Registering must not scrape: the engine may not be started yet.
        return self._families()

    def collect(self) -> Iterable[Metric]:
        ready, expiration, renewal, volumes, requests, window, expired = self._families()
        now = self._now()
        views = self._engine.snapshot()
        volumes.add_metric([self._node], len(views))
        window.add_metric([], sum(1 for view in views if view.in_renewal_window(now)))
        expired.add_metric([], sum(1 for view in views if view.expired(now)))
        count = 0
        for view in views:
            states = self._requests.requests_of(view.volume) if self._requests is not None else []
            count += len(states)
            renew_at = view.next_issuance.timestamp() if view.next_issuance is not None else 0.0
            for state in states:
                issuer = self._issuer(state)
                labels = [state.name, state.namespace, issuer.name, issuer.kind, issuer.group]
                status = _ready_status(state)
                for condition in _CONDITIONS:
                    ready.add_metric(
                        [state.name, state.namespace, condition, issuer.name, issuer.kind, issuer.group],
                        1.0 if condition == status else 0.0,
                    )
                expiration.add_metric(labels, self._expires(view, state))
                renewal.add_metric(labels, renew_at)
        requests.add_metric([self._node], count)
        return [ready, expiration, renewal, volumes, requests, window, expired]

    @staticmethod
    def _issuer(state: RequestState) -> IssuerRef:
        # Upstream takes the labels from the request itself, pending or not.
        return state.issuer or _NO_ISSUER

    @staticmethod
    def _expires(view: VolumeView, state: RequestState) -> float:
        if view.status.request_name == state.name and view.status.not_after is not None:
            return view.status.not_after.timestamp()
        # Upstream leaves the series out without a usable certificate; a zero says just as much.
        return state.issued.not_after.timestamp() if state.issued is not None else 0.0

    @staticmethod
    def _families() -> Sequence[GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "certmanager_csi_certificate_request_ready_status",
                "The ready status of the certificate request.",
                labels=["name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"],
            ),
            GaugeMetricFamily(
                "certmanager_csi_certificate_request_expiration_timestamp_seconds",
                "The timestamp after which the certificate request expires, expressed in Unix Epoch Time.",
                labels=_REQUEST_LABELS,
            ),
            GaugeMetricFamily(
                "certmanager_csi_certificate_request_renewal_timestamp_seconds",
                "The timestamp after which the certificate request should be renewed, expressed in Unix Epoch Time.",
                labels=_REQUEST_LABELS,
            ),
            GaugeMetricFamily(
                "certmanager_csi_managed_volume_count",
                "The number of managed volumes by the csi driver.",
                labels=["node"],
            ),
            GaugeMetricFamily(
                "certmanager_csi_managed_certificate_request_count",
                "The number of managed certificate requests by the csi driver.",
                labels=["node"],
            ),
            GaugeMetricFamily(
                "certcsi_certificates_in_renewal_window",
                "Certificates whose renewal time has come but that are neither renewed nor expired yet.",
            ),
            GaugeMetricFamily(
                "certcsi_certificates_expired", "Certificates past their not-after that are still awaiting renewal."
            ),
        )


class KeyCounts(Protocol):
    """What the metrics read of a key pool (`certcsi.pki.keypool.KeyPool` has it): its counts per key type."""

    def stats(self) -> Sequence[PoolStats]: ...


class KeyPoolCollector(Collector):
    """The key pool's gauges and counters, read from it at each scrape."""

    def __init__(self, keys: KeyCounts) -> None:
        self._keys = keys

    def describe(self) -> Iterable[Metric]:
        return self._families()  # registering must not read the pool; a scrape by name needs the names

    def collect(self) -> Iterable[Metric]:
        ready, taken = self._families()
        for stats in self._keys.stats():
            ready.add_metric([stats.key_type], stats.ready)
            taken.add_metric([stats.key_type, "pool"], stats.pooled)
            taken.add_metric([stats.key_type, "on_demand"], stats.on_demand)
        return [ready, taken]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                "certcsi_key_pool_keys", "Private keys made ahead and waiting in memory, by type.", labels=["key_type"]
            ),
            CounterMetricFamily(
                "certcsi_key_pool_taken",
                "Fresh private keys handed out, by type and source: pool (made ahead) or on_demand (made while "
                "waiting).",
                labels=["key_type", "source"],
            ),
        )


def _ready_status(state: RequestState) -> str:
    ready = state.conditions.get("Ready")
    return ready.status if ready is not None and ready.status in _CONDITIONS else "Unknown"
