"""Against the sandbox: /metrics after a publish, and after a publish the approver denied."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from obs_node_support import NAMESPACE, NODE_ID, observed_node
from prometheus_client.parser import text_string_to_metric_families

from certcsi.errors import IssuanceDenied
from certcsi.pki.certs import leaf_validity
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.volumes.issuance import fnv_hash_label

NODE = fnv_hash_label(NODE_ID)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /, **labels: str) -> float | None:
    return found.get((metric, frozenset(labels.items())))


async def test_a_published_volume_shows_in_upstream_and_certcsi_metrics(tmp_path: Path) -> None:
    async with observed_node(tmp_path) as node:
        pod = node.pod()
        await node.manager.publish(node.publish(pod))
        (request,) = node.requests()
        found = samples(await node.scrape())
    name = request["metadata"]["name"]
    not_after = leaf_validity(node.store.read_file("csi-vol-1", "tls.crt") or b"").not_after
    cr = {"name": name, "namespace": NAMESPACE, "issuer_name": CA_ISSUER, "issuer_kind": "ClusterIssuer"}
    cr["issuer_group"] = "cert-manager.io"
    assert value(found, "certmanager_csi_issue_requests_total", node=NODE, volume="csi-vol-1") == 1
    assert value(found, "certmanager_csi_issue_errors_total", node=NODE, volume="csi-vol-1") is None
    assert value(found, "certmanager_csi_managed_volume_count", node=NODE) == 1
    assert value(found, "certmanager_csi_managed_certificate_request_count", node=NODE) == 1
    assert value(found, "certmanager_csi_certificate_request_ready_status", condition="True", **cr) == 1
    assert value(found, "certmanager_csi_certificate_request_ready_status", condition="False", **cr) == 0
    expiry = value(found, "certmanager_csi_certificate_request_expiration_timestamp_seconds", **cr)
    assert expiry == not_after.timestamp()
    renewal = value(found, "certmanager_csi_certificate_request_renewal_timestamp_seconds", **cr)
    meta = node.store.read_metadata("csi-vol-1")
    assert meta is not None and meta.next_issuance_time is not None
    assert renewal == meta.next_issuance_time.timestamp()
    assert value(found, "certcsi_time_to_first_certificate_seconds_count") == 1
    assert value(found, "certcsi_issuance_duration_seconds_count") == 1
    assert value(found, "certcsi_renewals_total") == 0
    assert value(found, "certcsi_certificates_in_renewal_window") == 0
    assert value(found, "certcsi_issuance_failures_total", reason="Denied") == 0


async def test_a_denied_publish_counts_an_error_by_reason(tmp_path: Path) -> None:
    async with observed_node(tmp_path, approve=False) as node:
        pod = node.pod()
        publishing = asyncio.create_task(node.manager.publish(node.publish(pod)))
        await node.deny_next("Denied request: SAN web-0.team-a.svc is not allowed")
        with pytest.raises(IssuanceDenied):
            await publishing
        found = samples(await node.scrape())
    assert value(found, "certmanager_csi_issue_requests_total", node=NODE, volume="csi-vol-1") == 1
    assert value(found, "certmanager_csi_issue_errors_total", node=NODE, volume="csi-vol-1") == 1
    assert value(found, "certcsi_issuance_failures_total", reason="Denied") == 1
    assert value(found, "certcsi_issuance_failures_total", reason="Timeout") == 0
    assert value(found, "certmanager_csi_managed_volume_count", node=NODE) == 0  # nothing left behind
    assert value(found, "certcsi_time_to_first_certificate_seconds_count") == 0


async def test_a_pending_request_carries_the_issuer_of_its_spec(tmp_path: Path) -> None:
    async with observed_node(tmp_path, approve=False) as node:
        pod = node.pod()
        publishing = asyncio.create_task(node.manager.publish(node.publish(pod)))
        async with asyncio.timeout(10):
            while not node.requests() or not node.issuance.requests_of(node.manager.snapshot()[0].volume):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        found = samples(await node.scrape())
        (request,) = node.requests()
        node.deny(request["metadata"]["name"], "Denied request: not today")
        with pytest.raises(IssuanceDenied):
            await publishing
    spec = request["spec"]["issuerRef"]
    cr = {"name": request["metadata"]["name"], "namespace": NAMESPACE}
    cr |= {"issuer_name": spec["name"], "issuer_kind": spec["kind"], "issuer_group": spec["group"]}
    assert (cr["issuer_name"], cr["issuer_kind"]) == (CA_ISSUER, "ClusterIssuer")
    assert value(found, "certmanager_csi_certificate_request_ready_status", condition="Unknown", **cr) == 1
    assert value(found, "certmanager_csi_certificate_request_expiration_timestamp_seconds", **cr) == 0
    assert value(found, "certmanager_csi_managed_certificate_request_count", node=NODE) == 1
