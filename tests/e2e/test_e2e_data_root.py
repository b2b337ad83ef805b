"""A second process of one driver on its data root, or a symlinked inmemfs, stops at start; a full tmpfs fails."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc
import pytest
from e2e_harness import (
    E2E,
    csi_channel,
    e2e_environment,
    mount_at,
    mounts_under,
    publish_outcome,
    typical_attributes,
)

from certcsi.csi._gen import csi_pb2_grpc
from certcsi.sandbox.demo import NODE

pytestmark = pytest.mark.e2e


async def _driver_exit(env: E2E, data_root: Path, name: str) -> tuple[int, str]:
    """Start another `certcsi driver` on `data_root` with its own socket; its exit status and output."""
    socket = env.workdir / name / "csi.sock"
    socket.parent.mkdir()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "certcsi", "driver", "--node-id", NODE, "--endpoint", f"unix://{socket}"),
        *("--data-root", str(data_root), "--kubeconfig", str(env.kubeconfig)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"a driver on {data_root} did not stop by itself") from None
    assert not socket.exists(), "the refused driver took a CSI socket"
    return proc.returncode or 0, output.decode(errors="replace")


async def test_a_second_driver_on_the_same_data_root_refuses_to_start(env: E2E) -> None:
    code, output = await _driver_exit(env, env.data_root, "second")
    assert code == 1, output
    assert "refusing to start" in output and str(env.data_root) in output and "in use" in output, output
    assert f"pid {env.driver.pid}" in output, output
    # The first one serves on, and a kill -9 does not keep its lock: a restart after a crash starts.
    await env.driver.kill9()
    await env.driver.start()


async def test_a_symlinked_inmemfs_stops_the_driver_and_mounts_nothing(env: E2E) -> None:
    elsewhere = env.workdir / "elsewhere"
    elsewhere.mkdir()
    data_root = env.workdir / "linked-data-root"
    data_root.mkdir()
    (data_root / "inmemfs").symlink_to(elsewhere)
    code, output = await _driver_exit(env, data_root, "linked")
    assert code == 1, output
    assert "symbolic link" in output and str(data_root / "inmemfs") in output, output
    assert mount_at(elsewhere) is None
    assert mounts_under(data_root) == []


async def test_a_full_tmpfs_fails_the_publish_that_does_not_fit_and_leaves_nothing() -> None:
    # 32 KiB: one volume (metadata, status, three files) fits, the second does not.
    async with e2e_environment(driver_args=["--tmpfs-size", "32k"]) as env:
        pod = await env.owner_pod("tight")
        first, second = env.direct_volume(pod, "first"), env.direct_volume(pod, "second")
        async with csi_channel(env.driver.endpoint) as channel:
            node = csi_pb2_grpc.NodeStub(channel)
            assert await publish_outcome(node, first.request(typical_attributes())) == (grpc.StatusCode.OK, "")
            code, details = await publish_outcome(node, second.request(typical_attributes()))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
            assert second.volume_id in details and "--tmpfs-size" in details, details
            assert env.volume_dirs() == [first.volume_id]
            assert mount_at(second.target) is None and not second.target.exists()
            assert await env.requests_of_volume(first.volume_id) == 1
            await node.NodeUnpublishVolume(first.unpublish_request(), timeout=30)
            assert await publish_outcome(node, second.request(typical_attributes())) == (grpc.StatusCode.OK, "")
            await node.NodeUnpublishVolume(second.unpublish_request(), timeout=30)
