"""A failed publish becomes a FailedMount event worded as kubelet's, and is retried with backoff."""

from __future__ import annotations

import grpc
import pytest
from kubelet_harness import POD_YAML, SERVICE_ACCOUNT, FakeNode, advance, csidriver, events, eventually

from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import PUBLISH_BACKOFF, Kubelet, PodNotReady
from certcsi.volumes.clock import FakeClock


async def _apply(kubelet: Kubelet) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver()])
    await kubelet.apply(POD_YAML)


def test_backoff_doubles_from_half_a_second_to_kubelets_two_minutes_two_seconds() -> None:
    delays = [PUBLISH_BACKOFF.delay(attempt) for attempt in range(10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 122.0, 122.0]


async def test_failure_is_an_event_then_retried_after_backoff(
    kubelet: Kubelet, node: FakeNode, sandbox: Sandbox, clock: FakeClock
) -> None:
    node.errors = [
        (grpc.StatusCode.INVALID_ARGUMENT, "csi.cert-manager.io/issuer-name: required"),
        (grpc.StatusCode.UNAVAILABLE, "issuer not reachable"),
    ]
    await _apply(kubelet)
    await eventually(lambda: len(events(sandbox)) == 1, what="first FailedMount event")
    (event,) = events(sandbox)
    assert event["type"] == "Warning"
    assert event["source"]["component"] == "kubelet"
    assert event["involvedObject"]["name"] == "web"
    assert event["involvedObject"]["uid"] == kubelet.pod_uid("default", "web")
    assert event["message"] == (
        'MountVolume.SetUp failed for volume "tls" : '
        "rpc error: code = InvalidArgument desc = csi.cert-manager.io/issuer-name: required"
    )
    await eventually(lambda: clock.pending_timers == 2, what="backoff timer (and the 2m3s mount deadline)")
    await advance(clock, 0.49)
    assert clock.pending_timers == 2  # still waiting: the first delay is 0.5 s
    assert len(node.published) == 1
    await advance(clock, 0.01)
    await eventually(lambda: len(events(sandbox)) == 2, what="second FailedMount event")
    assert "code = Unavailable desc = issuer not reachable" in events(sandbox)[-1]["message"]
    await eventually(lambda: clock.pending_timers == 2, what="backoff timer")
    await advance(clock, 0.99)
    assert clock.pending_timers == 2  # the second delay is 1 s
    assert len(node.published) == 2
    await advance(clock, 0.01)
    await kubelet.wait_ready("default", "web", timeout=5)
    assert len(node.published) == 3
    assert len({call.request.volume_id for call in node.published}) == 1


async def test_repeated_failure_bumps_the_event_count(
    kubelet: Kubelet, node: FakeNode, sandbox: Sandbox, clock: FakeClock
) -> None:
    node.errors = [(grpc.StatusCode.INTERNAL, "boom")] * 2
    await _apply(kubelet)
    await eventually(lambda: len(node.published) == 1)
    await eventually(lambda: clock.pending_timers == 2, what="the backoff (and the 2m3s mount deadline)")
    await advance(clock, 0.5)
    await eventually(lambda: len(node.published) == 2)
    await eventually(lambda: bool(events(sandbox)) and events(sandbox)[0].get("count") == 2, what="count 2")
    assert len(events(sandbox)) == 1


async def test_final_error_removes_the_mount_dir(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    node.errors = [(grpc.StatusCode.INVALID_ARGUMENT, "bad")]
    await _apply(kubelet)
    await eventually(lambda: len(events(sandbox)) == 1)
    volume_dir = kubelet.pod_volume_path("default", "web", "tls").parent
    assert node.published[0].parent_existed
    assert not volume_dir.exists()


async def test_uncertain_error_keeps_the_mount_dir(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    node.errors = [(grpc.StatusCode.DEADLINE_EXCEEDED, "slow issuer")]
    await _apply(kubelet)
    await eventually(lambda: len(events(sandbox)) == 1)
    volume_dir = kubelet.pod_volume_path("default", "web", "tls").parent
    assert (volume_dir / "vol_data.json").exists()


async def test_wait_ready_times_out_with_the_last_failure(kubelet: Kubelet, node: FakeNode) -> None:
    node.errors = [(grpc.StatusCode.PERMISSION_DENIED, "issuer refuses")]
    await _apply(kubelet)
    with pytest.raises(PodNotReady) as caught:
        await kubelet.wait_ready("default", "web", timeout=0.5)
    assert 'last FailedMount: MountVolume.SetUp failed for volume "tls" : ' in str(caught.value)
    assert "code = PermissionDenied desc = issuer refuses" in str(caught.value)
    assert kubelet.last_failure("default", "web") is not None
