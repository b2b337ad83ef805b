"""Sockets come and go with their volumes: opened at the first issuance, gone at unpublish (or whenever the
volume's directory goes), all closed when the driver stops, all serving again when it starts."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from grpclib.exceptions import GRPCError, StreamTerminatedError
from workload_support import eventually, spiffe_id, svid_stream, workload_node

from certcsi.drivers.spiffe.workload.listening import SOCKET_MODE
from certcsi.volumes.store import Metadata


async def test_unpublish_closes_the_socket_and_every_connection() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        path = node.socket("vol-1")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.lstat(path).st_mode) == SOCKET_MODE
        endpoint = node.api.volumes["vol-1"]
        with pytest.raises((GRPCError, StreamTerminatedError)):
            async with svid_stream(node.client("vol-1")) as stream:
                await stream.next()
                node.unpublish("vol-1")
                await stream.next(timeout=5)
        assert "vol-1" not in node.api.volumes
        await eventually(lambda: endpoint.connections == 0, what="connections closed")
        assert not path.exists()


async def test_a_removed_volume_directory_closes_its_endpoint() -> None:
    """A first publish that failed after writing the files removes the directory; no `forgotten` follows."""
    async with workload_node() as node:
        node.issue("vol-1")
        node.store.remove_volume("vol-1")
        await eventually(lambda: "vol-1" not in node.api.volumes, what="the endpoint closed")


async def test_stop_closes_everything_and_a_restart_serves_again() -> None:
    base = Path(tempfile.mkdtemp(prefix="wl-", dir="/tmp"))
    try:
        async with workload_node(root=base) as node:
            node.issue("vol-1")
            node.issue("vol-2")
            sockets = [node.socket("vol-1"), node.socket("vol-2")]
        assert not any(path.exists() for path in sockets), "sockets left after the driver stopped"

        # A crashed driver leaves its socket file behind, bound to nothing.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(sockets[0]))
        stale.close()
        assert stat.S_ISSOCK(os.lstat(sockets[0]).st_mode)

        async with workload_node(root=base) as node:
            assert sorted(node.api.volumes) == ["vol-1", "vol-2"]
            for volume_id in ("vol-1", "vol-2"):
                response = await node.client(volume_id).first_svid()
                assert [svid.spiffe_id for svid in response.svids] == [spiffe_id(volume_id)]
    finally:
        shutil.rmtree(base)


async def test_a_file_in_the_sockets_place_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    async with workload_node() as node:
        node.issue("vol-0")
        node.store.write_metadata(Metadata(volume_id="vol-1", target_path="/t"))
        (node.store.data_dir("vol-1") / "spiffe.sock").write_bytes(b"not a socket")
        with caplog.at_level(logging.ERROR):
            node.issue("vol-1")
        assert "vol-1" not in node.api.volumes
        assert (node.store.data_dir("vol-1") / "spiffe.sock").read_bytes() == b"not a socket"
        assert any("cannot serve the Workload API" in r.getMessage() for r in caplog.records)
