"""A real sandbox per test (API server over HTTPS, cert-manager stand-in, CA ClusterIssuer), the
driver-side `Kube` connected with the admin kubeconfig, and helpers to set up pods and accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from issuance_support import World

from certcsi.kube import connect
from certcsi.sandbox.cluster import Sandbox


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with Sandbox() as sandbox:
        path = tmp_path / "kubeconfig"
        sandbox.write_kubeconfig(path)
        async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
            yield World(sandbox=sandbox, kube=kube, kubeconfig=path)


@pytest.fixture
async def world_without_approver(tmp_path: Path) -> AsyncIterator[World]:
    async with Sandbox(approve=False) as sandbox:
        path = tmp_path / "kubeconfig"
        sandbox.write_kubeconfig(path)
        async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
            yield World(sandbox=sandbox, kube=kube, kubeconfig=path)
