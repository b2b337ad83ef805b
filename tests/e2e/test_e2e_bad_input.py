"""Bad input: the pod never becomes ready, a FailedMount event names the problem, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_harness import (
    E2E,
    NAMESPACE,
    P,
    check_pair,
    csi_channel,
    eventually,
    mount_at,
    mounts_under,
    pod_manifest,
    publish_outcome,
    typical_attributes,
)

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.sandbox.kubelet import PodNotReady, volume_id
from certcsi.volumes.mount import SyscallMounter

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


# --- hostile targets and volume ids, published straight over CSI ------------------------------------


def _untouched(target: Path, kind: str) -> bool:
    if kind == "file":
        return target.read_text() == "a file"
    if kind == "full":
        return (target / "data.db").read_text() == "precious"
    if kind == "link":
        return target.is_symlink() and mount_at(target.resolve()) is None
    return (target / "theirs").read_text() == "not certcsi's" and mount_at(target) is not None


def _make_hostile(env: E2E, target: Path, kind: str) -> None:
    if kind == "file":
        target.write_text("a file")
    elif kind == "full":
        target.mkdir()
        (target / "data.db").write_text("precious")
    elif kind == "link":
        elsewhere = env.workdir / "elsewhere"
        elsewhere.mkdir()
        target.symlink_to(elsewhere)
    else:
        target.mkdir()
        SyscallMounter().mount_tmpfs(target, size="64k")
        (target / "theirs").write_text("not certcsi's")


# kind -> what FAILED_PRECONDITION's message must say besides the target path
HOSTILE = {"file": "not a directory", "full": "not empty", "link": "symbolic link", "mounted": "mounted"}


async def test_hostile_targets_are_refused_before_issuing_and_left_as_they_were(env: E2E) -> None:
    pod = await env.owner_pod("hostile")
    volumes = {kind: env.direct_volume(pod, kind) for kind in HOSTILE}
    for kind, volume in volumes.items():
        _make_hostile(env, volume.target, kind)
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        for kind, volume in volumes.items():
            code, details = await publish_outcome(node, volume.request(typical_attributes()))
            assert code == grpc.StatusCode.FAILED_PRECONDITION, (kind, code, details)
            assert str(volume.target) in details and HOSTILE[kind] in details, details
        assert await env.certificate_requests() == []
        assert env.volume_dirs() == []
        for kind, volume in volumes.items():
            await node.NodeUnpublishVolume(volume.unpublish_request())  # nothing of ours there: OK
            assert _untouched(volume.target, kind), kind
        assert mounts_under(env.data_root) == [mount_at(env.inmemfs)]


async def test_unpublish_with_a_hostile_volume_id_leaves_a_live_pod_alone(env: E2E) -> None:
    live = env.direct_volume(await env.owner_pod("live"), "tls")
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        await node.NodePublishVolume(live.request(typical_attributes()), timeout=30)
        for hostile in ("../etc", "../inmemfs", "..", f"../inmemfs/{live.volume_id}"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await node.NodeUnpublishVolume(
                    csi_pb2.NodeUnpublishVolumeRequest(volume_id=hostile, target_path=str(live.target))
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, hostile
            assert mount_at(live.target) is not None, hostile
            check_pair(live.target)
        assert env.volume_dirs() == [live.volume_id]
        await node.NodeUnpublishVolume(live.unpublish_request())
        assert mount_at(live.target) is None and not live.target.exists()
