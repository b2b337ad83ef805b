"""Fixtures: a Store with a namespace, and a running cert-manager stand-in with the sandbox CA."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cm_support import NAMESPACES

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create(NAMESPACES, {"metadata": {"name": "team"}})
    return s


@pytest.fixture
async def cert_manager(store: Store) -> AsyncIterator[CertManager]:
    manager = CertManager(store)
    install_ca_cluster_issuer(store)
    manager.start()
    yield manager
    await manager.stop()
