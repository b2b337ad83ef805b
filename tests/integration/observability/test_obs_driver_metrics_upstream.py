"""A running `certcsi driver`'s /metrics, scraped after a pod mounted a volume, against upstream csi-lib's
metrics: the same names, types, label names and help texts, issuer labels from the request's spec,
Go's process metrics under the same names, and no `*_created` series."""

from __future__ import annotations

from exposition import created_series, expected, families, mismatches
from obs_driver_support import NAMESPACE, driver_with_pod

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.sandbox.demo import NODE
from certcsi.volumes.issuance import fnv_hash_label

REQUEST = "name namespace issuer_name issuer_kind issuer_group"
# github.com/cert-manager/csi-lib metrics/metrics.go and metrics/certificaterequest_collector.go.
CSI_LIB = {
    "certmanager_csi_issue_requests_total": expected(
        "counter", "node volume", "The number of issue() calls made by the driver."
    ),
    "certmanager_csi_issue_errors_total": expected(
        "counter", "node volume", "The number of errors encountered during the driver issue() calls."
    ),
    "certmanager_csi_certificate_request_ready_status": expected(
        "gauge", f"{REQUEST} condition", "The ready status of the certificate request."
    ),
    "certmanager_csi_certificate_request_expiration_timestamp_seconds": expected(
        "gauge",
        REQUEST,
        "The timestamp after which the certificate request expires, expressed in Unix Epoch Time.",
    ),
    "certmanager_csi_certificate_request_renewal_timestamp_seconds": expected(
        "gauge",
        REQUEST,
        "The timestamp after which the certificate request should be renewed, expressed in Unix Epoch Time.",
    ),
    "certmanager_csi_managed_volume_count": expected(
        "gauge", "node", "The number of managed volumes by the csi driver."
    ),
    "certmanager_csi_managed_certificate_request_count": expected(
        "gauge", "node", "The number of managed certificate requests by the csi driver."
    ),
}
# What Go's process collector exposes under the same names (prometheus/client_golang collectors).
GO_PROCESS = {
    "process_cpu_seconds_total": expected("counter"),
    "process_open_fds": expected("gauge"),
    "process_max_fds": expected("gauge"),
    "process_virtual_memory_bytes": expected("gauge"),
    "process_resident_memory_bytes": expected("gauge"),
    "process_start_time_seconds": expected("gauge"),
}


async def test_a_driver_exposes_csi_libs_metrics_as_upstream_does() -> None:
    async with driver_with_pod() as node:
        status, text = await node.get("/metrics")
        (request,) = node.cluster.store.list(BY_KEY["cert-manager.io/certificaterequests"], NAMESPACE)[0]
    assert status == 200
    found = families(text)
    assert mismatches(found, CSI_LIB) == []
    assert mismatches(found, GO_PROCESS) == []
    assert all(found[name].samples for name in GO_PROCESS)
    assert found["python_info"].samples
    assert created_series(found) == []

    (issued,) = [s for s in found["certmanager_csi_certificate_request_ready_status"].samples if s.value == 1]
    assert issued.labels == {
        "name": request["metadata"]["name"],
        "namespace": NAMESPACE,
        "condition": "True",
        "issuer_name": CA_ISSUER,
        "issuer_kind": "ClusterIssuer",
        "issuer_group": "cert-manager.io",
    }
    (attempts,) = found["certmanager_csi_issue_requests_total"].samples
    assert attempts.labels["node"] == fnv_hash_label(NODE) and attempts.value == 1
    assert attempts.labels["volume"].startswith("csi-")
