"""Fixtures: the sandbox API server in-process, the fake CSI driver on a real unix socket, and a
Kubelet between them whose clock only moves when a test advances it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from kubelet_harness import DRIVER, NODE, FakeNode

from certcsi.csi._gen import csi_pb2_grpc
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="kl-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def fake_node(socket_dir: Path) -> AsyncIterator[tuple[FakeNode, str]]:
    # The generated base class answers UNIMPLEMENTED for the Node RPCs the fake leaves out.
    node = FakeNode()  # type: ignore[abstract]
    server = grpc.aio.server()
    csi_pb2_grpc.add_NodeServicer_to_server(node, server)
    endpoint = f"unix://{socket_dir / 'csi.sock'}"
    server.add_insecure_port(endpoint)
    await server.start()
    yield node, endpoint
    await server.stop(None)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox() as cluster:
        cluster.write_kubeconfig(tmp_path / "kubeconfig")
        yield cluster


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def kubelet(
    sandbox: Sandbox, fake_node: tuple[FakeNode, str], tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Kubelet]:
    _, endpoint = fake_node
    agent = Kubelet(
        kubeconfig=tmp_path / "kubeconfig",
        node_name=NODE,
        root_dir=tmp_path / "kubelet",
        drivers={DRIVER: endpoint},
        republish_period=60.0,
        clock=clock,
    )
    await agent.start()
    yield agent
    await agent.stop()


@pytest.fixture
def node(fake_node: tuple[FakeNode, str]) -> FakeNode:
    return fake_node[0]
