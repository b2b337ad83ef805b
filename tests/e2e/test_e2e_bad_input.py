"""Bad input: the pod never becomes ready, a FailedMount event names the problem, and nothing is left behind."""

from __future__ import annotations

import asyncio

import pytest
from e2e_harness import E2E, NAMESPACE, P, eventually, mount_at, pod_manifest, typical_attributes

from certcsi.sandbox.kubelet import PodNotReady

pytestmark = pytest.mark.e2e

ISSUER_NAME = P + "issuer-name"


def _without_issuer_name() -> dict[str, str]:
    attributes = typical_attributes()
    del attributes[ISSUER_NAME]
    return attributes


# pod name -> (manifest, what the FailedMount message must name)
CASES = {
    "unknown-key": (pod_manifest("unknown-key", typical_attributes(**{"dns-name": "typo.example"})), P + "dns-name"),
    "bad-key-size": (pod_manifest("bad-key-size", typical_attributes(**{"key-size": "1024"})), P + "key-size"),
    "read-write": (pod_manifest("read-write", typical_attributes(), read_only=False), "readOnly"),
    "no-issuer": (pod_manifest("no-issuer", _without_issuer_name()), ISSUER_NAME),
}


async def test_invalid_volumes_fail_by_name_and_leave_nothing(env: E2E) -> None:
    await env.kubelet.apply([manifest for manifest, _ in CASES.values()])

    async def failures(pod: str) -> list[dict[str, object]]:
        events = await env.events()
        return [
            event
            for event in events
            if event.get("reason") == "FailedMount" and (event.get("involvedObject") or {}).get("name") == pod
        ]

    counts: dict[str, int] = {}

    async def retried_everywhere() -> bool:
        for pod in CASES:
            counts[pod] = sum(int(event.get("count") or 1) for event in await failures(pod))  # type: ignore[call-overload]
        return all(count >= 2 for count in counts.values())

    deadline = asyncio.get_running_loop().time() + 30
    while not await retried_everywhere():
        assert asyncio.get_running_loop().time() < deadline, f"FailedMount counts: {counts}"
        await asyncio.sleep(0.1)

    for pod, (_manifest, named) in CASES.items():
        messages = [str(event.get("message")) for event in await failures(pod)]
        assert all(named in message and "code = InvalidArgument" in message for message in messages), messages
        with pytest.raises(PodNotReady):
            await env.kubelet.wait_ready(NAMESPACE, pod, timeout=0.1)
        target = env.target(pod)
        assert mount_at(target) is None, f"{pod}: something is mounted at {target}"
        assert not target.exists(), f"{pod}: {target} left behind"

    assert await env.certificate_requests() == []
    assert env.volume_dirs() == []


async def test_a_valid_pod_beside_them_still_works(env: E2E) -> None:
    # The control: the same harness and attributes minus the defect do produce a ready pod.
    await env.kubelet.apply(pod_manifest("fine", typical_attributes()))
    await env.kubelet.wait_ready(NAMESPACE, "fine", timeout=30)
    await eventually(lambda: len(env.volume_dirs()) == 1, timeout=5, what="one volume in inmemfs")
    assert len(await env.certificate_requests()) == 1
