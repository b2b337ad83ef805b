"""One sandbox API server per test module (tests mark themselves with loop_scope="module")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from apiserver_support import Cluster, running_cluster
from kubernetes_asyncio import client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path_factory.mktemp("apiserver")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(cluster: Cluster) -> client.ApiClient:
    return await cluster.client()
