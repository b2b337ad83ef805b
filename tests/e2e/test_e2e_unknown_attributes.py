"""An unknown csi.cert-manager.io key: the pod runs (as upstream) with a Warning naming it; strict mode refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import E2E, NAMESPACE, P, e2e_environment, eventually, pod_manifest, typical_attributes

from certcsi.sandbox.kubelet import PodNotReady

pytestmark = pytest.mark.e2e

TYPO = P + "keystore-pkcs12-enable"  # the name upstream's docs print; the attribute is pkcs12-enable


async def _events_of(env: E2E, pod: str, reason: str) -> list[dict[str, Any]]:
    return [
        event
        for event in await env.events()
        if event.get("reason") == reason and (event.get("involvedObject") or {}).get("name") == pod
    ]


async def test_the_pod_runs_and_its_events_name_the_key_and_the_nearest_known_one(env: E2E) -> None:
    await env.kubelet.apply(pod_manifest("typo", typical_attributes(**{"keystore-pkcs12-enable": "true"})))
    await env.kubelet.wait_ready(NAMESPACE, "typo", timeout=30)

    async def warned() -> bool:
        return bool(await _events_of(env, "typo", "UnknownVolumeAttribute"))

    await eventually(warned, timeout=10, what=lambda: "an UnknownVolumeAttribute event")
    (event,) = await _events_of(env, "typo", "UnknownVolumeAttribute")
    assert event["type"] == "Warning"
    assert repr(TYPO) in event["message"]
    assert "did you mean 'csi.cert-manager.io/pkcs12-enable'?" in event["message"]


async def test_a_strict_driver_refuses_the_volume_by_name() -> None:
    async with e2e_environment(driver_args=["--strict-attributes"]) as env:
        await env.kubelet.apply(pod_manifest("typo", typical_attributes(**{"keystore-pkcs12-enable": "true"})))

        async def failed() -> bool:
            return bool(await _events_of(env, "typo", "FailedMount"))

        await eventually(failed, timeout=30, what=lambda: "a FailedMount event")
        messages = [str(event.get("message")) for event in await _events_of(env, "typo", "FailedMount")]
        assert all(TYPO in message and "code = InvalidArgument" in message for message in messages), messages
        with pytest.raises(PodNotReady):
            await env.kubelet.wait_ready(NAMESPACE, "typo", timeout=0.1)
        assert await env.certificate_requests() == []
