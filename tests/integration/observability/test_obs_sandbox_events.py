"""Against the sandbox: what `kubectl describe pod` shows when issuance is denied, and when it works."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from obs_node_support import observed_node

from certcsi.errors import IssuanceDenied

APPROVER_MESSAGE = "Denied request: SAN web-0.team-a.svc is not allowed by policy team-a-tls"


async def test_a_denial_is_a_warning_on_the_pod_with_the_approver_s_message(tmp_path: Path) -> None:
    async with observed_node(tmp_path, approve=False) as node:
        pod = node.pod()
        for _ in range(2):  # kubelet retries the publish: one Event, counted twice
            publishing = asyncio.create_task(node.manager.publish(node.publish(pod)))
            await node.deny_next(APPROVER_MESSAGE)
            with pytest.raises(IssuanceDenied):
                await publishing
            await node.telemetry.events.flush()
        (event,) = await node.pod_events("web-0")
    assert event["type"] == "Warning"
    assert event["reason"] == "IssuanceDenied"
    assert event["message"] == f"CertificateRequest has been denied by the approval plugin: {APPROVER_MESSAGE}"
    assert event["count"] == 2
    involved = event["involvedObject"]
    assert (involved["kind"], involved["name"], involved["uid"]) == ("Pod", "web-0", pod["metadata"]["uid"])
    assert event["source"]["component"] == "csi.cert-manager.io"


async def test_the_first_certificate_is_a_normal_event(tmp_path: Path) -> None:
    async with observed_node(tmp_path) as node:
        pod = node.pod()
        await node.manager.publish(node.publish(pod))
        await node.manager.publish(node.publish(pod))  # a republish says nothing new
        (event,) = await node.pod_events("web-0")
        (request,) = node.requests()
    assert (event["type"], event["reason"]) == ("Normal", "CertificateIssued")
    assert event["message"].startswith(f"certificate issued by CertificateRequest {request['metadata']['name']}")


async def test_an_unknown_attribute_is_a_warning_on_the_pod_naming_the_nearest_key(tmp_path: Path) -> None:
    async with observed_node(tmp_path) as node:
        pod = node.pod()
        # The key upstream's docs print; upstream's code (and certcsi) know it as pkcs12-enable.
        publish = node.publish(pod, keystore_pkcs12_enable="true")
        await node.manager.publish(publish)
        await node.manager.publish(publish)  # a republish says nothing new
        events = await node.pod_events("web-0")
    (warning,) = [event for event in events if event["type"] == "Warning"]
    assert warning["reason"] == "UnknownVolumeAttribute"
    assert "'csi.cert-manager.io/keystore-pkcs12-enable'" in warning["message"]
    assert "did you mean 'csi.cert-manager.io/pkcs12-enable'?" in warning["message"]
    assert warning["count"] == 1
    assert [event["reason"] for event in events if event["type"] == "Normal"] == ["CertificateIssued"]
