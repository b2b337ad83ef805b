"""Fixtures of the end-to-end tests: root and a private mount namespace are required, never skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from e2e_harness import E2E, e2e_environment, require_private_mount_namespace


@pytest.fixture(autouse=True)
def _private_mount_namespace() -> None:
    require_private_mount_namespace()


@pytest.fixture
async def env() -> AsyncIterator[E2E]:
    async with e2e_environment() as environment:
        yield environment
