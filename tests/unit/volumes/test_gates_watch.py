"""`PodGates`: one node-scoped pod watch drives the gates; waits end on events, re-checks follow the backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from gates_support import NODE, UID, FakePods, pod, settle

from certcsi.errors import KubernetesError
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.gates import GateSet, GatesNotMet, PodGates, gate_backoff, parse_gates

KEY = ("team", "app-0", UID)
NO_JITTER = gate_backoff(duration=1.0, factor=2.0, jitter=0.0, cap=10.0)


@pytest.fixture
def api() -> FakePods:
    return FakePods()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gates(api: FakePods, clock: FakeClock) -> AsyncIterator[PodGates]:
    node_gates = PodGates(
        kube=api, node_id=NODE, gates=GateSet(parse_gates(["pod-ip:any"])), clock=clock, backoff=NO_JITTER
    )
    await node_gates.start()
    yield node_gates
    await node_gates.stop()


async def test_one_watch_scoped_to_the_node(gates: PodGates, api: FakePods) -> None:
    await settle()
    assert api.selectors == [f"spec.nodeName={NODE}"]


async def test_is_ready_reads_the_cache_fed_by_the_watch(gates: PodGates, api: FakePods) -> None:
    ready, why = gates.is_ready(*KEY)
    assert not ready and "not seen by the pod watch of node node-1" in why
    api.put(pod(), "ADDED")
    await settle()
    assert gates.is_ready(*KEY) == (False, "pod readiness gate pod-ip:any not met: pod has no IPv4/IPv6 address yet")
    api.put(pod(ips=("10.244.0.9",)))
    await settle()
    assert gates.is_ready(*KEY) == (True, "")
    api.put(pod(ips=("10.244.0.9",)), "DELETED")
    await settle()
    assert not gates.is_ready(*KEY)[0]
    assert api.gets == []


async def test_wait_ends_on_the_event_without_time_passing_or_a_get(
    gates: PodGates, api: FakePods, clock: FakeClock
) -> None:
    api.put(pod(), "ADDED")
    api.synced()
    await settle()
    waiter = asyncio.create_task(gates.wait_until_ready(*KEY, timeout=60))
    await settle()
    assert not waiter.done()
    api.put(pod(ips=("10.244.0.9",)))
    await settle()
    assert waiter.done()
    assert gates.gates.pod_ip(waiter.result()) == "10.244.0.9"
    assert clock.monotonic() == 0 and api.gets == []
    assert gates.waiting == 0


async def test_a_wait_that_times_out_names_the_unmet_gate(gates: PodGates, api: FakePods, clock: FakeClock) -> None:
    api.put(pod(), "ADDED")
    await settle()
    waiter = asyncio.create_task(gates.wait_until_ready(*KEY, timeout=5))
    await settle()
    clock.advance(5)
    await settle()
    with pytest.raises(GatesNotMet) as info:
        waiter.result()
    assert str(info.value) == ("pod readiness gate pod-ip:any not met: pod has no IPv4/IPv6 address yet (waited 5s)")
    assert gates.waiting == 0


async def test_while_the_cache_cannot_answer_the_pod_is_read_on_the_backoff(
    gates: PodGates, api: FakePods, clock: FakeClock
) -> None:
    api.pods[("team", "app-0")] = pod()  # exists, but the watch has not delivered it
    waiter = asyncio.create_task(gates.wait_until_ready(*KEY, timeout=60))
    await settle()
    assert len(api.gets) == 1
    for expected_gets, step in ((2, 1.0), (3, 2.0), (4, 4.0)):  # re-reads after 1 s, 2 s, 4 s
        clock.advance(step - 0.01)
        await settle()
        assert len(api.gets) == expected_gets - 1
        clock.advance(0.01)
        await settle()
        assert len(api.gets) == expected_gets
    api.pods[("team", "app-0")] = pod(ips=("10.0.0.3",))
    clock.advance(8)
    await settle()
    assert waiter.done() and gates.gates.pod_ip(waiter.result()) == "10.0.0.3"


async def test_a_conclusive_cache_is_never_bypassed_by_a_get(gates: PodGates, api: FakePods, clock: FakeClock) -> None:
    api.put(pod(), "ADDED")
    await settle()
    waiter = asyncio.create_task(gates.wait_until_ready(*KEY, timeout=30))
    for _ in range(10):
        clock.advance(10)
        await settle()
    assert waiter.done() and isinstance(waiter.exception(), GatesNotMet)
    assert api.gets == []


@pytest.mark.parametrize(
    ("found", "error", "reason"),
    [
        (None, None, "pod team/app-0 does not exist"),
        (pod(uid="other-uid"), None, "pod team/app-0 now has uid other-uid, not the volume's " + UID),
        (None, KubernetesError("pods is forbidden", status=403), "cannot read pod team/app-0: pods is forbidden"),
    ],
)
async def test_an_inconclusive_check_says_why(
    gates: PodGates, api: FakePods, found: dict[str, object] | None, error: KubernetesError | None, reason: str
) -> None:
    if found is not None:
        api.pods[("team", "app-0")] = found
    api.get_error = error
    verdict = await gates.check(*KEY)
    assert not verdict.ready
    assert verdict.reason == f"pod readiness gates not evaluated: {reason}"


async def test_on_ready_fires_once_when_an_event_opens_the_gates(gates: PodGates, api: FakePods) -> None:
    api.put(pod(), "ADDED")
    await settle()
    fired: list[int] = []
    gates.on_ready(*KEY, lambda: fired.append(1))
    api.put(pod(annotations={"unrelated": "change"}))
    await settle()
    assert fired == []
    api.put(pod(ips=("10.0.0.1",)))
    api.put(pod(ips=("10.0.0.1",), annotations={"later": "change"}))
    await settle()
    assert fired == [1]
    assert gates.waiting == 0


async def test_on_ready_for_a_pod_already_ready_fires_soon_unless_cancelled(gates: PodGates, api: FakePods) -> None:
    api.put(pod(ips=("10.0.0.1",)), "ADDED")
    await settle()
    fired: list[str] = []
    gates.on_ready(*KEY, lambda: fired.append("kept"))
    gates.on_ready(*KEY, lambda: fired.append("cancelled")).cancel()
    await settle()
    assert fired == ["kept"]


async def test_a_broken_listener_does_not_stop_the_watch(gates: PodGates, api: FakePods) -> None:
    api.put(pod(), "ADDED")
    await settle()

    def boom() -> None:
        raise RuntimeError("listener bug")

    gates.on_ready(*KEY, boom)
    fired: list[int] = []
    gates.on_ready(*KEY, lambda: fired.append(1))
    api.put(pod(ips=("10.0.0.1",)))
    await settle()
    assert fired == [1] and gates.is_ready(*KEY)[0]


async def test_stop_ends_the_watch_and_forgets_the_cache(gates: PodGates, api: FakePods) -> None:
    api.put(pod(ips=("10.0.0.1",)), "ADDED")
    api.synced()
    await settle()
    assert gates.synced.is_set()
    await gates.stop()
    assert not gates.synced.is_set() and not gates.is_ready(*KEY)[0]
