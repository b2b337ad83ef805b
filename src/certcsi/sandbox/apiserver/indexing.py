"""Where a list looks: the keys of one type's objects by namespace and by label `key=value`, kept in
step with every write, so a list with a namespace, a label requirement or a name reads only the
objects it can match instead of every object of the type.

The index only narrows: the list still matches each candidate against the whole selector. A write
that keeps an object's labels (every status write) leaves the index alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from certcsi.sandbox.apiserver.selectors import FieldSelector, Requirement

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


def _label_pairs(labels: Any) -> Iterable[tuple[str, str]]:
    if not isinstance(labels, Mapping):
        return ()
    return ((k, v) for k, v in labels.items() if isinstance(k, str) and isinstance(v, str))


class TableIndex:
    """The keys of one type's stored objects, by namespace and by label pair."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, set[str]] = {}
        self._by_label: dict[tuple[str, str], set[Key]] = {}

    def put(self, key: Key, labels: Any, old_labels: Any = None, *, existed: bool = False) -> None:
        """Record `key` (new, or `existed` with `old_labels` until now) as carrying `labels`."""
        if not existed:
            self._by_namespace.setdefault(key[0], set()).add(key[1])
        elif labels is old_labels or labels == old_labels:
            return
        else:
            self._drop_labels(key, old_labels)
        for pair in _label_pairs(labels):
            self._by_label.setdefault(pair, set()).add(key)

    def remove(self, key: Key, labels: Any) -> None:
        names = self._by_namespace.get(key[0])
        if names is not None:
            names.discard(key[1])
            if not names:
                del self._by_namespace[key[0]]
        self._drop_labels(key, labels)

    def _drop_labels(self, key: Key, labels: Any) -> None:
        for pair in _label_pairs(labels):
            keys = self._by_label.get(pair)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_label[pair]

    def candidates(
        self, namespace: str | None, labels: tuple[Requirement, ...], fields: FieldSelector
    ) -> Iterable[Key] | None:
        """Keys that may match (a superset of those that do), or None when only a scan can tell."""
        name = next((value for field, equal, value in fields if field == "metadata.name" and equal), None)
        if name is not None and namespace is not None:
            return [(namespace, name)]
        narrowest: set[Key] | None = None
        for req in labels:
            if req.op in ("=", "in"):
                keys: set[Key] = set()
                for value in req.values:
                    keys |= self._by_label.get((req.key, value), set())
                if narrowest is None or len(keys) < len(narrowest):
                    narrowest = keys
        if narrowest is not None:
            return narrowest if namespace is None else [k for k in narrowest if k[0] == namespace]
        if namespace is not None:
            return [(namespace, n) for n in self._by_namespace.get(namespace, ())]
        return None
