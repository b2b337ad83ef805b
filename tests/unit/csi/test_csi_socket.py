"""The server listens on the endpoint's unix socket: parsing, stale sockets, nothing else created."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from csi_harness import DRIVER_NAME, FakeBackend

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.csi.identity import IdentityServicer
from certcsi.csi.node import NodeServicer
from certcsi.csi.server import CsiServer, parse_endpoint


def _server(endpoint: str) -> CsiServer:
    return CsiServer(
        endpoint=endpoint,
        identity=IdentityServicer(name=DRIVER_NAME, version="1", not_ready=lambda: None),
        node=NodeServicer(node_id="n", backend=FakeBackend()),
    )


@asynccontextmanager
async def _serving(endpoint: str) -> AsyncIterator[CsiServer]:
    server = _server(endpoint)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(None)


async def _plugin_name(path: Path) -> str:
    async with grpc.aio.insecure_channel(f"unix://{path}") as channel:
        info = await csi_pb2_grpc.IdentityStub(channel).GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    return info.name


def _leave_stale_socket(path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.close()  # the file stays behind, like after a crash


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("unix:///run/csi/csi.sock", "/run/csi/csi.sock"),
        ("unix:/run/csi/csi.sock", "/run/csi/csi.sock"),
        ("/run/csi/csi.sock", "/run/csi/csi.sock"),
        ("unix:///run/csi/../csi/csi.sock", "/run/csi/csi.sock"),
    ],
)
def test_absolute_endpoints(endpoint: str, expected: str) -> None:
    assert parse_endpoint(endpoint) == Path(expected)


@pytest.mark.parametrize("endpoint", ["unix://plugin/csi.sock", "unix:plugin/csi.sock", "plugin/csi.sock"])
def test_relative_endpoints_resolve_against_cwd(
    endpoint: str, socket_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(socket_dir)
    assert parse_endpoint(endpoint) == socket_dir / "plugin" / "csi.sock"


@pytest.mark.parametrize("endpoint", ["", "unix://", "unix:", "tcp://127.0.0.1:10000", "/" + "x" * 120])
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        parse_endpoint(endpoint)


async def test_creates_nothing_but_the_socket(socket_dir: Path) -> None:
    async with _serving(f"unix://{socket_dir}/csi.sock"):
        assert await _plugin_name(socket_dir / "csi.sock") == DRIVER_NAME
        assert os.listdir(socket_dir) == ["csi.sock"]


async def test_stale_socket_is_replaced(socket_dir: Path) -> None:
    path = socket_dir / "csi.sock"
    _leave_stale_socket(path)
    async with _serving(str(path)):
        # A stale socket refuses connections: answering proves a fresh one is bound.
        assert await _plugin_name(path) == DRIVER_NAME


async def test_non_socket_at_the_path_is_left_alone(socket_dir: Path) -> None:
    path = socket_dir / "csi.sock"
    path.write_text("not a socket")
    with pytest.raises(FileExistsError, match="not a socket"):
        await _server(str(path)).start()
    assert path.read_text() == "not a socket"


async def test_missing_directory_is_an_error_not_created(socket_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        await _server(f"unix://{socket_dir}/missing/csi.sock").start()
    assert not (socket_dir / "missing").exists()


async def test_relative_endpoint_serves(socket_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (socket_dir / "plugin").mkdir()
    monkeypatch.chdir(socket_dir)
    async with _serving("unix://plugin/csi.sock"):
        assert await _plugin_name(socket_dir / "plugin" / "csi.sock") == DRIVER_NAME


async def test_stop_removes_own_socket(socket_dir: Path) -> None:
    async with _serving(f"unix://{socket_dir}/csi.sock"):
        pass
    assert os.listdir(socket_dir) == []


async def test_start_twice_is_refused(socket_dir: Path) -> None:
    async with _serving(f"unix://{socket_dir}/csi.sock") as server:
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
