"""The Store's list index: whatever was written, a list with a namespace, label selector or name answers
exactly what matching every stored object would, in the same order, page by page."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.selectors import matcher, parse_field_selector, parse_label_selector
from certcsi.sandbox.apiserver.storage import Store

CONFIGMAPS = BY_KEY["/configmaps"]
NAMESPACES = ("a", "b")
NAMES = ("x", "y", "z", "w")
LABELS = st.dictionaries(st.sampled_from(("node", "app")), st.sampled_from(("1", "2")), max_size=2)

# (operation, namespace, name, labels)
operations = st.lists(
    st.tuples(st.sampled_from(("put", "delete")), st.sampled_from(NAMESPACES), st.sampled_from(NAMES), LABELS),
    max_size=25,
)
label_selectors = st.sampled_from(("", "node=1", "node in (1,2)", "node=1,app=2", "app", "!app", "node!=1", "app=2"))
field_selectors = st.sampled_from(("", "metadata.name=x", "metadata.name!=x", "metadata.namespace=b"))


def _write(store: Store, op: str, namespace: str, name: str, labels: dict[str, str]) -> None:
    existing = store.find(CONFIGMAPS, namespace, name)
    if op == "delete":
        if existing is not None:
            store.delete(CONFIGMAPS, namespace, name)
        return
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    if existing is None:
        store.create(CONFIGMAPS, {"metadata": meta})
    else:
        store.update(CONFIGMAPS, {"metadata": meta}, namespace=namespace, name=name)


@settings(max_examples=150, deadline=None)
@given(operations, label_selectors, field_selectors, st.sampled_from((None, *NAMESPACES)), st.integers(0, 3))
def test_lists_answer_what_a_scan_would(
    ops: list[tuple[str, str, str, dict[str, str]]], labels: str, fields: str, namespace: str | None, limit: int
) -> None:
    store = Store()
    for ns in NAMESPACES:
        store.create(BY_KEY["/namespaces"], {"metadata": {"name": ns}})
    for op in ops:
        _write(store, *op)
    requirements = parse_label_selector(labels)
    selector = parse_field_selector(fields, CONFIGMAPS)
    match = matcher(requirements, selector)
    scanned = sorted(
        (key for key, obj in _stored(store).items() if (namespace is None or key[0] == namespace) and match(obj)),
    )
    listed, _ = store.list(CONFIGMAPS, namespace, labels=requirements, fields=selector)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed] == scanned
    if limit:
        first, remaining = store.page(CONFIGMAPS, namespace, labels=requirements, fields=selector, limit=limit)
        assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in first] == scanned[:limit]
        assert remaining == max(0, len(scanned) - limit)


def _stored(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in store.all_objects(CONFIGMAPS)}


def test_a_write_that_keeps_the_labels_keeps_the_object_listed() -> None:
    store = Store()
    store.create(BY_KEY["/namespaces"], {"metadata": {"name": "a"}})
    store.create(CONFIGMAPS, {"metadata": {"name": "x", "namespace": "a", "labels": {"node": "1"}}})
    store.mutate(CONFIGMAPS, "a", "x", lambda obj: obj.setdefault("data", {}).update({"k": "v"}))
    listed, _ = store.list(CONFIGMAPS, None, labels=parse_label_selector("node=1"))
    assert [o["data"] for o in listed] == [{"k": "v"}]
