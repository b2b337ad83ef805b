"""A fresh sandbox per test, with cert-manager's own approver off and the approver's RBAC in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from approver_sandbox_support import ApproverWorld, approver_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ApproverWorld]:
    async with approver_world(tmp_path) as running:
        yield running
