"""Group ids the kernel cannot apply are bad input: INVALID_ARGUMENT before any request, nothing left.

chown(2) takes a 32-bit gid and reads (gid_t)-1 (-1, 4294967295) as "leave the group alone", so such a
value would leave the files readable by root only; larger or other negative values make chown fail.
"""

from __future__ import annotations

import grpc
import pytest
from e2e_harness import E2E, csi_channel, mount_at, publish_outcome, typical_attributes

from certcsi.csi._gen import csi_pb2_grpc

pytestmark = pytest.mark.e2e

FS_GROUP_MAX = (
    "product bug: drivers.certmanager.attributes._fs_group accepts 4294967295 (MAX_FS_GROUP), which is "
    "(gid_t)-1: chown leaves the group unchanged and the files stay readable by root only"
)


async def _publish_rejected(env: E2E, *, attributes: dict[str, str], mount_group: str, named: str) -> None:
    direct = env.direct_volume(await env.owner_pod("owner"), "tls")
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        code, details = await publish_outcome(node, direct.request(attributes, mount_group=mount_group))
        if code is grpc.StatusCode.OK:
            await node.NodeUnpublishVolume(direct.unpublish_request())  # leave nothing mounted either way
    assert (code, named in details) == (grpc.StatusCode.INVALID_ARGUMENT, True), details
    assert await env.requests_of_volume(direct.volume_id) == 0
    assert env.volume_dirs() == []
    assert mount_at(direct.target) is None
    assert not direct.target.exists()


@pytest.mark.parametrize("mount_group", ["4294967296", "-5", "-1", "4294967295"])
async def test_out_of_range_volume_mount_group_is_invalid(env: E2E, mount_group: str) -> None:
    await _publish_rejected(env, attributes=typical_attributes(), mount_group=mount_group, named="volume_mount_group")


async def test_fs_group_attribute_of_gid_minus_one_is_invalid(env: E2E) -> None:
    attributes = typical_attributes(**{"fs-group": "4294967295"})
    await _publish_rejected(env, attributes=attributes, mount_group="", named="csi.cert-manager.io/fs-group")


async def test_largest_real_group_id_is_applied(env: E2E) -> None:
    # The control: the top of the valid range is accepted and really set on the files.
    direct = env.direct_volume(await env.owner_pod("owner"), "tls")
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        code, details = await publish_outcome(node, direct.request(typical_attributes(), mount_group="4294967294"))
        assert code is grpc.StatusCode.OK, details
        try:
            assert (direct.target / "tls.crt").stat().st_gid == 4294967294
        finally:
            await node.NodeUnpublishVolume(direct.unpublish_request())
