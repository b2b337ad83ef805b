"""Fixtures for the certcsi.kube tests: a loopback HTTP API and a Kube connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kube_support import FakeApiServer

from certcsi.kube import Kube, connect


@pytest.fixture
async def api_server() -> AsyncIterator[FakeApiServer]:
    server = FakeApiServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def kube(api_server: FakeApiServer, tmp_path: Path) -> AsyncIterator[Kube]:
    path = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as client:
        yield client
