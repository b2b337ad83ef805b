"""Fixtures: `certcsi sandbox up`'s cluster (control plane, controllers, a node running pods) in-process."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certcsi.sandbox.bringup import LocalCluster


@pytest.fixture
async def cluster() -> AsyncIterator[LocalCluster]:
    # Short: a driver's `unix://plugin/csi.sock` under a container root must fit a socket path's 107 bytes.
    state = Path(tempfile.mkdtemp(prefix="node-", dir="/tmp"))
    async with LocalCluster(state_dir=state / "state", kubeconfig=state / "kubeconfig") as running:
        yield running
    shutil.rmtree(state, ignore_errors=True)
