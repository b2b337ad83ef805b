"""Pod deletion: NodeUnpublishVolume for what is (or may be) mounted, retried until OK, then cleanup."""

from __future__ import annotations

import asyncio
import gc

import grpc
import pytest
from kubelet_harness import POD_YAML, SERVICE_ACCOUNT, FakeNode, advance, csidriver, events, eventually

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock


async def _apply(kubelet: Kubelet) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver()])
    await kubelet.apply(POD_YAML)


async def test_delete_unpublishes_and_removes_the_pod_dir(kubelet: Kubelet, node: FakeNode) -> None:
    await _apply(kubelet)
    await kubelet.wait_ready("default", "web", timeout=5)
    uid = kubelet.pod_uid("default", "web")
    target = kubelet.pod_volume_path("default", "web", "tls")
    await kubelet.delete_pod("default", "web", timeout=5)
    (call,) = node.unpublished
    assert call.volume_id == node.published[0].request.volume_id
    assert call.target_path == str(target)
    assert not (kubelet.root_dir / "pods" / uid).exists()


async def test_failed_unpublish_is_retried(kubelet: Kubelet, node: FakeNode, clock: FakeClock) -> None:
    node.unpublish_errors = [(grpc.StatusCode.INTERNAL, "busy")]
    await _apply(kubelet)
    await kubelet.wait_ready("default", "web", timeout=5)
    uid = kubelet.pod_uid("default", "web")
    await kubelet.delete_pod("default", "web", wait=False)
    await eventually(lambda: len(node.unpublished) == 1)
    await eventually(lambda: clock.pending_timers == 1, what="teardown backoff")
    assert (kubelet.root_dir / "pods" / uid).exists()
    await advance(clock, 0.5)
    await eventually(lambda: not (kubelet.root_dir / "pods" / uid).exists(), what="pod dir removal")
    assert len(node.unpublished) == 2


async def test_in_flight_publish_finishes_before_unpublish(kubelet: Kubelet, node: FakeNode) -> None:
    node.gate = asyncio.Event()
    await _apply(kubelet)
    await asyncio.wait_for(node.publish_started.wait(), 5)
    await kubelet.delete_pod("default", "web", wait=False)
    await asyncio.sleep(0.2)
    assert node.unpublished == []  # kubelet never sends an unpublish racing its own publish
    node.gate.set()
    await eventually(lambda: len(node.unpublished) == 1, what="unpublish after the publish returned")


async def test_cancelled_publish_is_unpublished(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    node.errors = [(grpc.StatusCode.UNAVAILABLE, "driver restarting")]
    await _apply(kubelet)
    await eventually(lambda: len(events(sandbox)) == 1)
    await kubelet.delete_pod("default", "web", timeout=5)
    assert len(node.unpublished) == 1  # the outcome was uncertain: maybe mounted


async def test_finally_failed_publish_is_not_unpublished(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    node.errors = [(grpc.StatusCode.INVALID_ARGUMENT, "bad attribute")]
    await _apply(kubelet)
    await eventually(lambda: len(events(sandbox)) == 1)
    uid = kubelet.pod_uid("default", "web")
    await kubelet.delete_pod("default", "web", timeout=5)
    assert node.unpublished == []
    assert not (kubelet.root_dir / "pods" / uid).exists()


async def test_pod_deleted_behind_the_kubelets_back(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    await _apply(kubelet)
    await kubelet.wait_ready("default", "web", timeout=5)
    sandbox.store.delete(BY_KEY["/pods"], "default", "web")
    await eventually(lambda: len(node.unpublished) == 1, what="unpublish after the DELETED event")


async def test_a_publish_that_fails_after_its_pod_was_deleted_logs_nothing_unretrieved(
    kubelet: Kubelet, node: FakeNode, caplog: pytest.LogCaptureFixture
) -> None:
    # The publish outlives the pod's run (it is shielded, as kubelet lets a driver finish): its failure
    # belongs to nobody then, and must not surface as asyncio's "exception was never retrieved" error.
    node.gate = asyncio.Event()
    node.errors = [(grpc.StatusCode.DEADLINE_EXCEEDED, "timed out waiting for the issuer")]
    await _apply(kubelet)
    await node.publish_started.wait()
    uid = kubelet.pod_uid("default", "web")
    deleting = asyncio.create_task(kubelet.delete_pod("default", "web", timeout=10))
    # No reference to the worker is kept here: the lost future must be free to be collected.
    await eventually(lambda: kubelet._workers[uid]._teardown_task is not None, what="the teardown started")
    node.gate.set()
    await deleting
    gc.collect()  # a lost exception is reported when its future is collected
    assert [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()] == []
