"""requiresRepublish: SetUp again every period with fresh tokens; a failed republish unmounts nothing."""

from __future__ import annotations

import json

import grpc
from kubelet_harness import POD_YAML, SERVICE_ACCOUNT, FakeNode, advance, csidriver, events, eventually

from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock

TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"


async def _ready(kubelet: Kubelet, clock: FakeClock, **driver_spec: object) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver(**driver_spec)])
    await kubelet.apply(POD_YAML)
    await kubelet.wait_ready("default", "web", timeout=5)
    await eventually(lambda: clock.pending_timers == 1, what="the republish timer")


async def test_republish_every_period_with_fresh_tokens(kubelet: Kubelet, node: FakeNode, clock: FakeClock) -> None:
    await _ready(kubelet, clock, requiresRepublish=True, tokenRequests=[{"audience": "a"}])
    await advance(clock, 59.9)
    assert clock.pending_timers == 1
    assert len(node.published) == 1
    await advance(clock, 0.1)
    await eventually(lambda: len(node.published) == 2, what="first republish")
    await eventually(lambda: clock.pending_timers == 1)
    await advance(clock, 60)
    await eventually(lambda: len(node.published) == 3, what="second republish")
    first, second, third = (call.request for call in node.published)
    assert first.volume_id == second.volume_id == third.volume_id
    assert first.target_path == second.target_path == third.target_path
    tokens = [json.loads(r.volume_context[TOKENS])["a"]["token"] for r in (first, second, third)]
    assert len(set(tokens)) == 3


async def test_no_republish_unless_required(kubelet: Kubelet, node: FakeNode, clock: FakeClock) -> None:
    await _ready(kubelet, clock)
    for _ in range(3):
        await advance(clock, 60)
        await eventually(lambda: clock.pending_timers == 1)
    assert len(node.published) == 1


async def test_failed_republish_is_an_event_and_unmounts_nothing(
    kubelet: Kubelet, node: FakeNode, sandbox: Sandbox, clock: FakeClock
) -> None:
    await _ready(kubelet, clock, requiresRepublish=True)
    node.errors = [(grpc.StatusCode.INVALID_ARGUMENT, "renewal refused")]
    await advance(clock, 60)
    await eventually(lambda: len(events(sandbox)) == 1, what="FailedMount on republish")
    assert "rpc error: code = InvalidArgument desc = renewal refused" in events(sandbox)[0]["message"]
    target = kubelet.pod_volume_path("default", "web", "tls")
    assert (target / "tls.crt").exists()
    assert (target.parent / "vol_data.json").exists()
    assert node.unpublished == []
    await eventually(lambda: clock.pending_timers == 1)
    await advance(clock, 60)
    await eventually(lambda: len(node.published) == 3, what="the next republish")
    await kubelet.wait_ready("default", "web", timeout=1)
