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
Every gauge is computed at scrape time from the engine's memory: no timer, no work at all between
scrapes. The families with a series per volume or per request are rendered by
`observability.volume_series` (prometheus_client's per-sample rendering would cost most of a second
at 10,000 volumes), the others by prometheus_client from `registry`. They come in the same order as
when prometheus_client rendered them all, but for the two issue counters, which now follow the
registry's families (Prometheus reads each family on its own; their samples are unchanged).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from certcsi.observability.volume_series import EngineSeries, EngineView, RequestsView, VolumeCounter
from certcsi.pki.keypool import PoolStats

__all__ = [
    "FAILURE_REASONS",
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

# Bytes of text per chunk of a /metrics answer (a piece of text is never split: a chunk may be a little larger).
CHUNK = 256 * 1024

# Issuance takes from well under a second (a CA issuer) to minutes (an ACME or a human approver).
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def failure_reason(error: BaseException) -> str:
    """The `reason` label of a failed attempt (one of FAILURE_REASONS)."""
    return next((reason for kind, reason in _REASON_OF if isinstance(error, kind)), "Internal")


class NodeMetrics:
    """The node process's registry: upstream's counters, ours, and (once attached) the engine's gauges."""

    def __init__(
        self, *, node_hash: str, registry: CollectorRegistry | None = None, keys: KeyCounts | None = None
    ) -> None:
        self.node_hash = node_hash
        self.registry = registry if registry is not None else process_registry()
        self.issue_requests = VolumeCounter(
            name="certmanager_csi_issue_requests",
            documentation="The number of issue() calls made by the driver.",
            node_hash=node_hash,
        )
        self.issue_errors = VolumeCounter(
            name="certmanager_csi_issue_errors",
            documentation="The number of errors encountered during the driver issue() calls.",
            node_hash=node_hash,
        )
        self._engine: EngineSeries | None = None
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
        self._engine = EngineSeries(node_hash=self.node_hash, engine=engine, requests=requests, now=now)

    def issuing(self, volume_id: str) -> None:
        self.issue_requests.inc(volume_id)

    def failed(self, volume_id: str, error: BaseException) -> None:
        self.issue_errors.inc(volume_id)
        self.failures.labels(reason=failure_reason(error)).inc()

    def forget(self, volume_id: str) -> None:
        """Drop a volume's series (unpublished), so a long-lived node does not pile up dead volumes."""
        self.issue_requests.remove(volume_id)  # a no-op for a volume never counted
        self.issue_errors.remove(volume_id)

    def exposition(self, names: frozenset[str] = frozenset()) -> bytes:
        """Every family in Prometheus' text format, at once; only the `names` series if any (as prometheus_client's
        `restricted_registry`: a family is left out when none of its samples is named)."""
        out: list[bytes] = []
        for _ in self._render(out, names):
            pass
        return b"".join(out)

    async def scrape(self, names: frozenset[str] = frozenset()) -> list[bytes]:
        """`exposition(names)` in chunks of about CHUNK bytes (what /metrics serves, a chunk at a time), letting
        the event loop run between slices of volumes and between chunks: 13 MB at 10,000 volumes, joined and
        encoded at once and then copied by the transport, would hold the loop for tens of milliseconds."""
        out: list[bytes] = []
        for _ in self._render(out, names):
            await asyncio.sleep(0)
        chunks: list[bytes] = []
        for chunk in _chunks(out):
            chunks.append(chunk)
            await asyncio.sleep(0)
        return chunks

    def _render(self, out: list[bytes], names: frozenset[str]) -> Iterator[None]:
        """Append every family's text to `out`, yielding where the event loop may run."""
        out.append(generate_latest(self.registry.restricted_registry(names) if names else self.registry))
        self.issue_requests.render(out, names)
        self.issue_errors.render(out, names)
        if self._engine is not None:
            yield from self._engine.render(out, names)


def _chunks(pieces: list[bytes]) -> Iterator[bytes]:
    """`pieces` joined into chunks of about CHUNK bytes, each made when asked for."""
    group: list[bytes] = []
    size = 0
    for piece in pieces:
        group.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(group)
            group, size = [], 0
    if group:
        yield b"".join(group)


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
