"""A real grpc.aio server on a unix socket with a fake volume backend, and a real client channel."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from csi_harness import DRIVER_NAME, NODE_ID, FakeBackend, Harness, SteppingClock

from certcsi.csi._gen import csi_pb2_grpc
from certcsi.csi.identity import IdentityServicer
from certcsi.csi.node import NodeServicer
from certcsi.csi.server import CsiServer


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Short path: pytest's tmp_path can exceed the 107-byte unix socket limit.
    with tempfile.TemporaryDirectory(prefix="certcsi-") as directory:
        yield Path(directory)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(step=0.25)


@pytest.fixture
async def csi(socket_dir: Path, clock: SteppingClock) -> AsyncIterator[Harness]:
    backend = FakeBackend()
    readiness: dict[str, str | None] = {"reason": None}
    server = CsiServer(
        endpoint=f"unix://{socket_dir}/csi.sock",
        identity=IdentityServicer(name=DRIVER_NAME, version="v0.1.0", not_ready=lambda: readiness["reason"]),
        node=NodeServicer(node_id=NODE_ID, backend=backend),
        clock=clock,
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"unix://{server.socket_path}")
    try:
        yield Harness(
            server=server,
            channel=channel,
            identity=csi_pb2_grpc.IdentityStub(channel),
            node=csi_pb2_grpc.NodeStub(channel),
            backend=backend,
            readiness=readiness,
        )
    finally:
        await channel.close(None)
        await server.stop(None)
