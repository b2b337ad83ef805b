"""kill -9 of the driver while pods are being published, then a restart on the same socket and data root."""

from __future__ import annotations

import asyncio
import os

import pytest
from e2e_harness import E2E, NAMESPACE, check_pair, e2e_environment, eventually, pod_manifest, typical_attributes

pytestmark = pytest.mark.e2e

SHORT = {"duration": "8s", "renew-before": "5s"}
# Ready before the kill: 7 long-lived and 3 short-lived pods. In flight at the kill: 20 more.
FIRST = [f"a-steady-{i}" for i in range(7)] + [f"a-short-{i}" for i in range(3)]
SECOND = [f"b-steady-{i:02d}" for i in range(17)] + [f"b-short-{i}" for i in range(3)]
IN_FLIGHT_AT_KILL = 5
RENEWALS_AFTER_RESTART = 2


def _manifest(name: str) -> dict[str, object]:
    return pod_manifest(name, typical_attributes(**(SHORT if "-short-" in name else {})))


async def _requests_owned_by(env: E2E, prefix: str) -> int:
    requests = await env.certificate_requests()
    owners = [ref.get("name", "") for r in requests for ref in r["metadata"].get("ownerReferences") or []]
    return sum(owner.startswith(prefix) for owner in owners)


async def _kill_while_publishing(env: E2E) -> int:
    """Start SECOND and kill -9 the driver once several of its requests wait for signing."""
    await env.kubelet.apply([_manifest(name) for name in SECOND])

    async def in_flight() -> bool:
        return await _requests_owned_by(env, "b-") >= IN_FLIGHT_AT_KILL

    await eventually(in_flight, timeout=20, what="the second batch's requests", interval=0.02)
    return await env.driver.kill9()


async def _running(env: E2E, names: list[str]) -> list[str]:
    pods = await env.list_items(f"/api/v1/namespaces/{NAMESPACE}/pods")
    phases = {pod["metadata"]["name"]: (pod.get("status") or {}).get("phase") for pod in pods}
    return [name for name in names if phases.get(name) == "Running"]


async def _wait_for_renewals(env: E2E, name: str, count: int, timeout: float) -> None:
    seen = [check_pair(env.target(name)).serial]

    def renewed() -> bool:
        serial = check_pair(env.target(name)).serial
        if serial != seen[-1]:
            seen.append(serial)
        return len(seen) > count

    await eventually(renewed, timeout=timeout, what=f"{count} renewals of {name} after the restart", interval=0.2)


async def test_kill_9_under_load_then_restart_keeps_every_pod_valid_and_renewing() -> None:
    # A signing delay keeps the second batch's requests in flight long enough to kill the driver mid-publish.
    async with e2e_environment(signing_delay=1.0) as env:
        await env.kubelet.apply([_manifest(name) for name in FIRST])
        await env.wait_all_ready(FIRST, timeout=30)
        steady_before = {name: check_pair(env.target(name)).serial for name in FIRST if "-steady-" in name}

        killed = await _kill_while_publishing(env)
        assert not os.path.exists(f"/proc/{killed}")
        ready_at_kill = await _running(env, SECOND)
        assert len(ready_at_kill) < len(SECOND), "every pod was ready before the kill: nothing was in flight"
        await asyncio.sleep(0.5)  # let the kubelet see its in-flight publishes fail
        await env.driver.start()
        assert env.driver.pid != killed

        everyone = FIRST + SECOND
        await env.wait_all_ready(everyone, timeout=60)
        serials = {name: check_pair(env.target(name)).serial for name in everyone}
        assert len(set(serials.values())) == len(everyone)
        # Nothing that held a valid certificate before the kill was issued again.
        steady_before.update({name: serials[name] for name in ready_at_kill if "-steady-" in name})
        assert {name: serials[name] for name in steady_before} == steady_before
        assert len(env.volume_dirs()) == len(everyone)
        # The kill cut publishes off mid-call: the kubelet saw them fail and retried.
        failed = {e["involvedObject"]["name"] for e in await env.events() if e.get("reason") == "FailedMount"}
        assert len({name for name in failed if name.startswith("b-")}) >= IN_FLIGHT_AT_KILL, failed

        shorts = [name for name in everyone if "-short-" in name]
        await asyncio.gather(*(_wait_for_renewals(env, name, RENEWALS_AFTER_RESTART, timeout=30) for name in shorts))
