"""NodeMetrics: upstream's names and labels, ours, values computed at scrape time, no global registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import prometheus_client
import pytest
from observability_support import request_certificate
from prometheus_client.parser import text_string_to_metric_families

from certcsi.errors import IssuanceDenied, IssuanceTimeout, IssuerUnavailable, KubernetesError
from certcsi.observability.metrics import FAILURE_REASONS, NodeMetrics, failure_reason
from certcsi.volumes.driver import IssuerRef, Volume
from certcsi.volumes.issuance import RequestState, fnv_hash_label
from certcsi.volumes.reporting import VolumeView
from certcsi.volumes.status import VolumeStatus

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NODE = fnv_hash_label("node-1")
ISSUER = IssuerRef(name="ca", kind="ClusterIssuer", group="cert-manager.io")


def volume(volume_id: str) -> Volume:
    return Volume(volume_id=volume_id, target_path=f"/t/{volume_id}", attributes={})


def view(volume_id: str, *, not_after: datetime | None, renew: datetime | None, request: str = "") -> VolumeView:
    status = VolumeStatus(request_name=request or None, issuer=ISSUER, not_after=not_after)
    return VolumeView(volume=volume(volume_id), next_issuance=renew, status=status, live=True)


@dataclass
class FakeEngine:
    views: list[VolumeView] = field(default_factory=list)
    scrapes: int = 0

    def snapshot_in_slices(self, size: int) -> Iterator[list[VolumeView]]:
        self.scrapes += 1
        return iter([list(self.views)])


@dataclass
class FakeRequests:
    """The watch cache's requests by volume."""

    by_volume: dict[str, list[RequestState]] = field(default_factory=dict)

    def requests_of(self, volume: Volume) -> list[RequestState]:
        return self.by_volume.get(volume.volume_id, [])


def request(name: str, *, ready: str | None, certificate: str = "", issuer: IssuerRef = ISSUER) -> RequestState:
    """The cache's state of a request, parsed from the object as the watch delivers it."""
    reason = "Issued" if ready == "True" else "Pending"
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": reason, "message": ""}]
    status = {"conditions": conditions, "certificate": certificate}
    spec = {"issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group}}
    return RequestState.of({"metadata": {"name": name, "namespace": "team"}, "spec": spec, "status": status})


def sample(metrics: NodeMetrics, metric: str, /, **labels: str) -> float | None:
    """The value /metrics serves for that series (None when it serves no such series)."""
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for found in family.samples:
            if found.name == metric and found.labels == labels:
                return float(found.value)
    return None


def request_labels(name: str) -> dict[str, str]:
    return {
        "name": name,
        "namespace": "team",
        "issuer_name": "ca",
        "issuer_kind": "ClusterIssuer",
        "issuer_group": "cert-manager.io",
    }


def attached(engine: FakeEngine, requests: FakeRequests | None = None) -> NodeMetrics:
    metrics = NodeMetrics(node_hash=NODE)
    requests = requests or FakeRequests()
    metrics.attach(engine=engine, requests=requests, now=lambda: NOW)
    return metrics


def test_nothing_is_computed_until_scraped() -> None:
    engine = FakeEngine()
    attached(engine)
    assert engine.scrapes == 0


def test_the_default_registry_is_left_alone() -> None:
    before = set(prometheus_client.REGISTRY._names_to_collectors)
    metrics = attached(FakeEngine())
    metrics.issuing("vol-1")
    assert set(prometheus_client.REGISTRY._names_to_collectors) == before
    # Two processes' worth in one test run must not collide.
    attached(FakeEngine()).issuing("vol-1")


def test_issue_counters_carry_node_hash_and_volume_and_are_dropped_on_unpublish() -> None:
    metrics = attached(FakeEngine())
    metrics.issuing("vol-1")
    metrics.issuing("vol-1")
    metrics.failed("vol-1", IssuanceDenied("no"))
    assert sample(metrics, "certmanager_csi_issue_requests_total", node=NODE, volume="vol-1") == 2
    assert sample(metrics, "certmanager_csi_issue_errors_total", node=NODE, volume="vol-1") == 1
    assert sample(metrics, "certcsi_issuance_failures_total", reason="Denied") == 1
    metrics.forget("vol-1")
    assert sample(metrics, "certmanager_csi_issue_requests_total", node=NODE, volume="vol-1") is None
    assert sample(metrics, "certcsi_issuance_failures_total", reason="Denied") == 1  # no volume label: kept


def test_every_failure_reason_is_exported_from_the_start() -> None:
    metrics = attached(FakeEngine())
    assert [sample(metrics, "certcsi_issuance_failures_total", reason=r) for r in FAILURE_REASONS] == [0.0] * len(
        FAILURE_REASONS
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (IssuanceDenied("x"), "Denied"),
        (IssuanceTimeout("x"), "Timeout"),
        (IssuerUnavailable("x"), "IssuerUnavailable"),
        (KubernetesError("x", status=403), "Kubernetes"),
        (RuntimeError("x"), "Internal"),
    ],
)
def test_failure_reasons(error: BaseException, reason: str) -> None:
    assert failure_reason(error) == reason


def test_volume_and_request_gauges_follow_the_engine_at_each_scrape() -> None:
    not_after = NOW + timedelta(hours=1)
    renew = NOW + timedelta(minutes=40)
    engine = FakeEngine([view("vol-1", not_after=not_after, renew=renew, request="req-a")])
    requests = FakeRequests({"vol-1": [request("req-a", ready="True")]})
    metrics = attached(engine, requests)
    labels = request_labels("req-a")
    assert sample(metrics, "certmanager_csi_managed_volume_count", node=NODE) == 1
    assert sample(metrics, "certmanager_csi_managed_certificate_request_count", node=NODE) == 1
    assert sample(metrics, "certmanager_csi_certificate_request_ready_status", condition="True", **labels) == 1
    assert sample(metrics, "certmanager_csi_certificate_request_ready_status", condition="False", **labels) == 0
    assert sample(metrics, "certmanager_csi_certificate_request_ready_status", condition="Unknown", **labels) == 0
    expiry = "certmanager_csi_certificate_request_expiration_timestamp_seconds"
    assert sample(metrics, expiry, **labels) == not_after.timestamp()
    renewal = "certmanager_csi_certificate_request_renewal_timestamp_seconds"
    assert sample(metrics, renewal, **labels) == renew.timestamp()
    engine.views.clear()
    assert sample(metrics, "certmanager_csi_managed_volume_count", node=NODE) == 0
    assert sample(metrics, expiry, **labels) is None


def test_a_request_without_ready_condition_is_unknown_and_has_no_expiry() -> None:
    engine = FakeEngine([view("vol-1", not_after=None, renew=None)])
    metrics = attached(engine, FakeRequests({"vol-1": [request("req-p", ready=None)]}))
    labels = request_labels("req-p")
    assert sample(metrics, "certmanager_csi_certificate_request_ready_status", condition="Unknown", **labels) == 1
    assert sample(metrics, "certmanager_csi_certificate_request_expiration_timestamp_seconds", **labels) == 0
    assert sample(metrics, "certmanager_csi_certificate_request_renewal_timestamp_seconds", **labels) == 0


def test_an_older_request_s_expiry_is_read_from_its_own_certificate() -> None:
    encoded, not_after = request_certificate(issued=NOW - timedelta(hours=1), duration=timedelta(hours=2))
    engine = FakeEngine([view("vol-1", not_after=NOW + timedelta(hours=1), renew=NOW, request="req-new")])
    requests = FakeRequests({"vol-1": [request("req-old", ready="True", certificate=encoded)]})
    metrics = attached(engine, requests)
    labels = request_labels("req-old")
    expiry = "certmanager_csi_certificate_request_expiration_timestamp_seconds"
    assert sample(metrics, expiry, **labels) == not_after.timestamp()


def test_renewal_window_and_expired_counts() -> None:
    engine = FakeEngine(
        [
            view("fresh", not_after=NOW + timedelta(hours=1), renew=NOW + timedelta(minutes=20)),
            view("due", not_after=NOW + timedelta(minutes=10), renew=NOW - timedelta(minutes=5)),
            view("expired", not_after=NOW - timedelta(minutes=1), renew=NOW - timedelta(minutes=30)),
            view("waiting", not_after=None, renew=None),
        ]
    )
    metrics = attached(engine)
    assert sample(metrics, "certcsi_certificates_in_renewal_window") == 1
    assert sample(metrics, "certcsi_certificates_expired") == 1
    assert sample(metrics, "certmanager_csi_managed_volume_count", node=NODE) == 4


def test_histograms_and_renewals_are_exported_by_name() -> None:
    metrics = attached(FakeEngine())
    metrics.time_to_first_certificate.observe(1.5)
    metrics.issuance_duration.observe(0.3)
    metrics.renewals.inc()
    text = metrics.exposition().decode()
    assert "certcsi_time_to_first_certificate_seconds_count 1.0" in text
    assert 'certcsi_issuance_duration_seconds_bucket{le="0.5"} 1.0' in text
    assert "certcsi_renewals_total 1.0" in text


def test_issuer_labels_are_each_requests_own_not_the_volumes_last_issuer() -> None:
    runtime_change = IssuerRef(name="new-ca", kind="Issuer", group="example.io")
    engine = FakeEngine([view("vol-1", not_after=NOW + timedelta(hours=1), renew=NOW, request="req-old")])
    requests = FakeRequests(
        {"vol-1": [request("req-old", ready="True"), request("req-new", ready="False", issuer=runtime_change)]}
    )
    metrics = attached(engine, requests)
    ready = "certmanager_csi_certificate_request_ready_status"
    assert sample(metrics, ready, condition="True", **request_labels("req-old")) == 1
    new = {"name": "req-new", "namespace": "team", "issuer_name": "new-ca", "issuer_kind": "Issuer"}
    assert sample(metrics, ready, condition="False", issuer_group="example.io", **new) == 1


def test_no_created_series_and_process_metrics_are_served() -> None:
    metrics = attached(FakeEngine())
    metrics.issuing("vol-1")
    text = metrics.exposition().decode()
    assert "_created" not in text
    assert "\nprocess_cpu_seconds_total " in text and "\npython_info{" in text


def test_a_scrape_by_name_serves_those_families_alone_and_reads_no_volume() -> None:
    engine = FakeEngine([view("vol-1", not_after=NOW + timedelta(hours=1), renew=NOW)])
    metrics = attached(engine)
    metrics.renewals.inc()
    text = metrics.exposition(frozenset({"certcsi_renewals_total"})).decode()
    assert text.splitlines()[-1] == "certcsi_renewals_total 1.0"
    assert "certmanager_csi_managed_volume_count" not in text and "process_cpu_seconds_total" not in text
    assert engine.scrapes == 0  # the per-volume families were not computed for it
    assert "certmanager_csi_managed_volume_count" in metrics.exposition().decode()
    assert engine.scrapes == 1
