"""The install's lifecycle runs, each made once per session and shared by the tests that check them.

The approver tests' helpers (a SPIFFE request body, SPIFFE IDs) are reused from their directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "approver"))
