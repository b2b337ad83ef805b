"""The Store's label index for watchers: a watch on `k=v` sees exactly what an unindexed one would."""

from __future__ import annotations

from typing import Any

import pytest

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.selectors import parse_label_selector
from certcsi.sandbox.apiserver.storage import Store, Watch

CONFIGMAPS = BY_KEY["/configmaps"]


def _store() -> Store:
    store = Store()
    store.create(BY_KEY["/namespaces"], {"metadata": {"name": "ns"}})
    return store


def _drain(w: Watch) -> list[tuple[str, str]]:
    events = []
    while not w.queue.empty():
        event = w.queue.get_nowait()
        assert event is not None
        events.append((event.type, event.object["metadata"]["name"]))
    return events


def _labels(store: Store, name: str, labels: dict[str, str] | None) -> None:
    def change(obj: dict[str, Any]) -> None:
        obj["metadata"]["labels"] = labels

    store.mutate(CONFIGMAPS, "ns", name, change)


@pytest.mark.parametrize("selector", ["node=a", "node in (a)", "node=a,app", "node==a"])
def test_indexed_watch_sees_objects_move_in_and_out(selector: str) -> None:
    store = _store()
    indexed = store.watch(CONFIGMAPS, "ns", since=store.resource_version, labels=parse_label_selector(selector))
    assert indexed.index == ("node", "a")
    store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "ns", "labels": {"node": "b", "app": "x"}}})
    _labels(store, "c", {"node": "a", "app": "x"})
    _labels(store, "c", {"node": "a", "app": "y"})
    _labels(store, "c", {"app": "y"})
    _labels(store, "c", {"node": "a", "app": "z"})
    store.delete(CONFIGMAPS, "ns", "c")
    assert _drain(indexed) == [("ADDED", "c"), ("MODIFIED", "c"), ("DELETED", "c"), ("ADDED", "c"), ("DELETED", "c")]


@pytest.mark.parametrize("selector", ["", "node", "node!=b", "node in (a,b)", "!node", "node notin (b)"])
def test_selectors_without_one_required_value_are_not_indexed(selector: str) -> None:
    store = _store()
    w = store.watch(CONFIGMAPS, "ns", since=0, labels=parse_label_selector(selector))
    assert w.index is None
    store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "ns", "labels": {"node": "a"}}})
    assert _drain(w) == ([] if selector in ("!node",) else [("ADDED", "c")])


def test_a_closed_indexed_watch_gets_nothing_more() -> None:
    store = _store()
    first = store.watch(CONFIGMAPS, None, since=0, labels=parse_label_selector("node=a"))
    second = store.watch(CONFIGMAPS, None, since=0, labels=parse_label_selector("node=a"))
    first.close()
    store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "ns", "labels": {"node": "a"}}})
    assert first.queue.get_nowait() is None and first.queue.empty()
    assert _drain(second) == [("ADDED", "c")]
    second.close()
    store.create(CONFIGMAPS, {"metadata": {"name": "d", "namespace": "ns", "labels": {"node": "a"}}})
    assert store._indexed[CONFIGMAPS.key] == {}
