"""The pod's bind mount is read-only in every view of it, the host's too, and a republish repairs a writable one.

As the DaemonSet runs the driver: its container sees /var/lib/kubelet/pods through a Bidirectional
(rshared) mount, so each bind it makes there is copied into the host's peer mount. Here both views live
in the test's mount namespace: the kubelet's pods directory, made shared, and `host-pods`, a second
mount point of its peer group standing for the host's side.
"""

from __future__ import annotations

import subprocess

import grpc
import pytest
from e2e_harness import (
    E2E,
    NAMESPACE,
    check_pair,
    csi_channel,
    mount_at,
    pod_manifest,
    publish_outcome,
    share_with_peer,
    typical_attributes,
    write_fails_read_only,
)

from certcsi.csi._gen import csi_pb2_grpc

pytestmark = pytest.mark.e2e

READ_ONLY_HARDENED = {"ro", "nosuid", "nodev", "noexec"}


async def test_the_pods_bind_is_read_only_in_the_hosts_peer_view(env: E2E) -> None:
    pods, host_pods = env.workdir / "kubelet" / "pods", env.workdir / "host-pods"
    share_with_peer(pods, host_pods)
    await env.kubelet.apply(pod_manifest("web", typical_attributes()))
    await env.kubelet.wait_ready(NAMESPACE, "web", timeout=30)
    target = env.target("web")
    seen_from_the_host = host_pods / target.relative_to(pods)

    serial = check_pair(target).serial
    for view in (target, seen_from_the_host):
        mount = mount_at(view)
        assert mount is not None, f"nothing mounted at {view}"
        assert mount.options >= READ_ONLY_HARDENED, (view, mount.options)
        assert mount.fs_type == "tmpfs"
        assert write_fails_read_only(view), view
    assert check_pair(seen_from_the_host).serial == serial

    await env.kubelet.delete_pod(NAMESPACE, "web", timeout=30)
    assert mount_at(target) is None and mount_at(seen_from_the_host) is None  # the unmount propagated too


async def test_a_republish_makes_a_writable_bind_read_only_in_place(env: E2E) -> None:
    # The state a kill -9 between a bind and its read-only remount leaves (upstream's two steps, which
    # certcsi keeps for kernels without the new mount API): our data directory, bound writable.
    direct = env.direct_volume(await env.owner_pod("owner"), "tls")
    request = direct.request(typical_attributes())
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        assert await publish_outcome(node, request) == (grpc.StatusCode.OK, "")
        serial = check_pair(direct.target).serial
        [data] = env.volume_dirs()
        subprocess.run(["umount", str(direct.target)], check=True)
        subprocess.run(["mount", "--bind", str(env.inmemfs / data / "data"), str(direct.target)], check=True)
        writable = mount_at(direct.target)
        assert writable is not None and "rw" in writable.options
        held = (direct.target / "tls.crt").open("rb")  # a reader the republish must not disturb

        try:
            assert await publish_outcome(node, request) == (grpc.StatusCode.OK, "")
            repaired = mount_at(direct.target)
            assert repaired is not None and repaired.mount_id == writable.mount_id  # not torn down, not stacked
            assert repaired.options >= READ_ONLY_HARDENED
            assert write_fails_read_only(direct.target)
            assert check_pair(direct.target).serial == serial
            assert held.read().startswith(b"-----BEGIN CERTIFICATE")
        finally:
            held.close()
            await node.NodeUnpublishVolume(direct.unpublish_request())
    assert mount_at(direct.target) is None
