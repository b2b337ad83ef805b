"""The install's lifecycle runs, shared for the session by the tests that check them.

The approver tests' helpers (a SPIFFE request body, SPIFFE IDs) are reused from their directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent / "approver"))

from rbac_lifecycle_support import Lifecycles


@pytest.fixture(scope="session")
def lifecycles() -> Lifecycles:
    return Lifecycles()
