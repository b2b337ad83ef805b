"""Bad input: the pod never becomes ready, a FailedMount event names the problem, and nothing is left behind."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import E2E, NAMESPACE, P, eventually, mount_at, pod_manifest, typical_attributes

from certcsi.sandbox.kubelet import PodNotReady, volume_id

pytestmark = pytest.mark.e2e

ISSUER_NAME = P + "issuer-name"


def _without_issuer_name() -> dict[str, str]:
    attributes = typical_attributes()
    del attributes[ISSUER_NAME]
    return attributes


# pod name -> (manifest, what the FailedMount message must name)
CASES = {
    "bad-serial": (pod_manifest("bad-serial", typical_attributes(serialnumber="abc_123")), P + "serialnumber"),
    "bad-issuer": (pod_manifest("bad-issuer", typical_attributes(**{"issuer-name": "CN=x"})), ISSUER_NAME),
    "bad-key-size": (pod_manifest("bad-key-size", typical_attributes(**{"key-size": "1024"})), P + "key-size"),
    "read-write": (pod_manifest("read-write", typical_attributes(), read_only=False), "readOnly"),
    "no-issuer": (pod_manifest("no-issuer", _without_issuer_name()), ISSUER_NAME),
}
CONTROL = "fine"  # the same attributes without the defect: proves the driver works and the checks can see it


async def _failed_mounts(env: E2E, pod: str) -> list[dict[str, Any]]:
    return [
        event
        for event in await env.events()
        if event.get("reason") == "FailedMount" and (event.get("involvedObject") or {}).get("name") == pod
    ]


async def _wait_until_each_failed_twice(env: E2E, timeout: float) -> None:
    """Two failures (count bumps on a repeated event) show the kubelet retried and failed again."""
    counts: dict[str, int] = {}

    async def each_twice() -> bool:
        for pod in CASES:
            counts[pod] = sum(int(event.get("count") or 1) for event in await _failed_mounts(env, pod))
        return all(count >= 2 for count in counts.values())

    await eventually(each_twice, timeout=timeout, what=lambda: f"two FailedMounts per pod, got {counts}")


async def test_invalid_volumes_fail_by_name_and_leave_nothing(env: E2E) -> None:
    await env.kubelet.apply([manifest for manifest, _ in CASES.values()])
    await env.kubelet.apply(pod_manifest(CONTROL, typical_attributes()))
    await env.kubelet.wait_ready(NAMESPACE, CONTROL, timeout=30)
    await _wait_until_each_failed_twice(env, timeout=30)

    for pod, (_manifest, named) in CASES.items():
        messages = [str(event.get("message")) for event in await _failed_mounts(env, pod)]
        assert messages, pod
        assert all(named in message and "code = InvalidArgument" in message for message in messages), messages
        with pytest.raises(PodNotReady):
            await env.kubelet.wait_ready(NAMESPACE, pod, timeout=0.1)
        target = env.target(pod)
        assert mount_at(target) is None, f"{pod}: something is mounted at {target}"
        assert not target.exists(), f"{pod}: {target} left behind"

    requests = await env.certificate_requests()
    owners = [ref.get("name") for request in requests for ref in request["metadata"].get("ownerReferences") or []]
    assert owners == [CONTROL]
    assert env.volume_dirs() == [volume_id(env.kubelet.pod_uid(NAMESPACE, CONTROL), "tls")]
    assert await _failed_mounts(env, CONTROL) == []
