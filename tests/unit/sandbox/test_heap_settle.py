"""`sandbox up` settles its heap once serving: start-up objects frozen, young collections spaced out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from certcsi.sandbox import heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_is_alive(restored_collector: None) -> None:
    kept = [{"alive": True}]
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # in the permanent generation now


def test_settle_spaces_young_collections_and_keeps_the_older_ones(restored_collector: None) -> None:
    _, middle, old = gc.get_threshold()
    heap.settle()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, middle, old)
