"""An engine (real Manager, real Store on a plain directory, FakeMounter, FakeClock) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from observability_support import Engine, new_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    built = new_engine(tmp_path)
    await built.manager.start()
    yield built
    await built.manager.stop()
