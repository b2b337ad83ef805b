"""The in-memory object store behind the sandbox API: versions, watches, status, owners.

Every method runs synchronously on the event loop, so each call is atomic with respect to every
other; watchers are fed in the same step as the write, which is what makes list-then-watch exact.
Stored objects are never handed out for mutation: reads return the stored dict, which callers must
treat as read-only (use `copy_obj` before changing one).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from certcsi.sandbox.apiserver import errors
from certcsi.sandbox.apiserver.resources import BY_KEY, RBAC, ResourceType
from certcsi.sandbox.apiserver.selectors import FieldSelector, Requirement, matcher

Obj = dict[str, Any]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what kube-apiserver's name generator uses
_NAMESPACES = BY_KEY["/namespaces"]


def copy_obj(value: Any) -> Any:
    """Deep copy of a JSON value; several times faster than copy.deepcopy for API objects."""
    if isinstance(value, dict):
        return {k: copy_obj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_obj(v) for v in value]
    return value


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Admission(Protocol):
    """An admission plugin (cert-manager's webhook role): mutate `obj` in place or raise ApiError."""

    def admit(self, *, operation: str, rt: ResourceType, obj: Obj, old: Obj | None, user: Any | None) -> None: ...


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj
    _line: bytes | None = field(default=None, repr=False)

    def line(self) -> bytes:
        """The event as one JSON line, serialised once however many watchers receive it."""
        if self._line is None:
            self._line = json.dumps({"type": self.type, "object": self.object}, separators=(",", ":")).encode()
            self._line += b"\n"
        return self._line


@dataclass
class _Change:
    rv: int
    key: str
    type: str
    obj: Obj
    old: Obj | None
    event: WatchEvent | None = None  # shared by all watchers that see the change as its own type


class Watch:
    """One watcher: an async iterator of events; `close()` ends it."""

    def __init__(
        self,
        store: Store,
        rt: ResourceType,
        namespace: str | None,
        match: Callable[[Obj], bool],
        *,
        index: tuple[str, str] | None = None,
    ) -> None:
        self._store = store
        self.rt = rt
        self.namespace = namespace
        self.match = match
        # A label (key, value) every matching object carries: lets the store skip this watcher for
        # changes to objects that carry neither it now nor before.
        self.index = index
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.closed = False

    def offer(self, change: _Change) -> None:
        if self.namespace is not None and change.obj["metadata"].get("namespace") != self.namespace:
            return
        now_in = self.match(change.obj)
        was_in = change.old is not None and self.match(change.old)
        if change.type == "DELETED":
            kind = "DELETED" if now_in else None
        elif change.type == "ADDED":
            kind = "ADDED" if now_in else None
        elif now_in:
            kind = "MODIFIED" if was_in else "ADDED"
        else:
            kind = "DELETED" if was_in else None
        if kind is None:
            return
        if kind == change.type:
            if change.event is None:
                change.event = WatchEvent(kind, change.obj)
            self.queue.put_nowait(change.event)
        else:
            self.queue.put_nowait(WatchEvent(kind, change.obj))

    def bookmark(self) -> None:
        """Queue a BOOKMARK at the store's current version: every earlier event is already queued."""
        obj = {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version,
            "metadata": {"resourceVersion": str(self._store.resource_version)},
        }
        self.queue.put_nowait(WatchEvent("BOOKMARK", obj))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store._unregister(self)
            self.queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        event = await self.queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


def _validate_name(rt: ResourceType, name: str) -> str | None:
    if rt.group == RBAC:  # RBAC names are path segments: "system:controller:x" is valid
        bad = name in (".", "..") or "/" in name or "%" in name
        return "may not contain '/' or '%' and may not be '.' or '..'" if bad else None
    if rt is _NAMESPACES:
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character"
            )
        return None
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


class Store:
    """Objects by type, namespace and name; one global resourceVersion; bounded change history."""

    def __init__(self, *, history: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {rt.key: {} for rt in BY_KEY.values()}
        self._watchers: dict[str, set[Watch]] = {}  # watchers without a label index, by type
        # Watchers whose selector requires label k=v, by type and (k, v): one node's watch per label.
        self._indexed: dict[str, dict[tuple[str, str], set[Watch]]] = {}
        self._history: list[_Change] = []
        self._history_rvs: list[int] = []
        self._history_limit = history
        self._compacted_rv = 0  # changes at or below this version are no longer retained
        self._owned: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> dependents (key, ns, name)
        self.resource_version = 0
        self.admission: list[Admission] = []
        self._clock = clock

    # -- reads ------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects[rt.key].get((namespace or "", name))
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self._objects[rt.key].get((namespace or "", name))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: tuple[Requirement, ...] = (),
        fields: FieldSelector = (),
    ) -> tuple[list[Obj], int]:
        match = matcher(labels, fields)
        items = [
            obj
            for (ns, _), obj in self._objects[rt.key].items()
            if (namespace is None or ns == namespace) and match(obj)
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items, self.resource_version

    # -- writes -----------------------------------------------------------------------------------

    def create(self, rt: ResourceType, obj: Obj, *, namespace: str | None = None, user: Any | None = None) -> Obj:
        obj = copy_obj(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        ns = self._namespace_for(rt, meta, namespace)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
        name = meta.get("name") or ""
        if not name:
            raise errors.invalid(
                rt, "", [("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]
            )
        if (problem := _validate_name(rt, name)) is not None:
            raise errors.invalid(
                rt, name, [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}')]
            )
        if rt.namespaced and ("", ns) not in self._objects["/namespaces"]:
            raise errors.ApiError(
                404, "NotFound", f'namespaces "{ns}" not found', details={"name": ns, "kind": "namespaces"}
            )
        if (ns, name) in self._objects[rt.key]:
            raise errors.already_exists(rt, name)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta.pop("resourceVersion", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self._clock)
        if rt.group == "cert-manager.io":
            meta["generation"] = 1
        if rt.has_status:
            obj["status"] = {"phase": "Pending"} if rt.key == "/pods" else {}
            if rt.key == "/namespaces":
                obj["status"] = {"phase": "Active"}
        for plugin in self.admission:
            plugin.admit(operation="CREATE", rt=rt, obj=obj, old=None, user=user)
        return self._commit(rt, ns, name, obj, old=None, kind="ADDED")

    def update(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        namespace: str | None,
        name: str,
        subresource: str = "",
        user: Any | None = None,
    ) -> Obj:
        """PUT semantics: optimistic concurrency on metadata.resourceVersion when the body carries one."""
        ns = namespace or ""
        old = self.get(rt, namespace, name)
        meta = obj.get("metadata") or {}
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        rv = meta.get("resourceVersion")
        if rv in (None, "") and rt.group == "cert-manager.io":
            raise errors.invalid(
                rt,
                name,
                [
                    (
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if rv not in (None, "") and str(rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name)
        if subresource == "status":
            new = copy_obj(old)
            new["status"] = copy_obj(obj.get("status"))
        else:
            new = copy_obj(obj)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            new_meta = new.setdefault("metadata", {})
            for immutable in ("uid", "creationTimestamp", "namespace", "name", "generation"):
                if immutable in old["metadata"]:
                    new_meta[immutable] = old["metadata"][immutable]
                else:
                    new_meta.pop(immutable, None)
            if rt.has_status:
                new["status"] = copy_obj(old.get("status"))
            if "generation" in new_meta and _spec_of(new) != _spec_of(old):
                new_meta["generation"] = old["metadata"]["generation"] + 1
        if new == {**old, "metadata": {**old["metadata"]}}:
            return old  # a no-op write neither bumps the version nor wakes watchers, as in Kubernetes
        for plugin in self.admission:
            plugin.admit(operation="UPDATE", rt=rt, obj=new, old=old, user=user)
        return self._commit(rt, ns, name, new, old=old, kind="MODIFIED")

    def mutate(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], None],
        *,
        subresource: str = "",
        user: Any | None = None,
    ) -> Obj:
        """Read-modify-write of the current object (the basis of PATCH); `change` edits a copy."""
        current = copy_obj(self.get(rt, namespace, name))
        rv = current["metadata"]["resourceVersion"]
        change(current)
        current.setdefault("metadata", {})
        if not current["metadata"].get("resourceVersion"):
            current["metadata"]["resourceVersion"] = rv
        updated: Obj = self.update(rt, current, namespace=namespace, name=name, subresource=subresource, user=user)
        return updated

    def delete(self, rt: ResourceType, namespace: str | None, name: str, *, precondition_uid: str | None = None) -> Obj:
        ns = namespace or ""
        old = self.get(rt, namespace, name)
        if precondition_uid and precondition_uid != old["metadata"]["uid"]:
            raise errors.conflict(rt, name)
        del self._objects[rt.key][(ns, name)]
        gone: Obj = copy_obj(old)
        self.resource_version += 1
        gone["metadata"]["resourceVersion"] = str(self.resource_version)
        self._unindex_owners(rt.key, ns, name, old)
        self._record(_Change(self.resource_version, rt.key, "DELETED", gone, old))
        self._collect_dependents(old)
        if rt is _NAMESPACES:
            self._delete_namespace_contents(name)
        return gone

    # -- watches ----------------------------------------------------------------------------------

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        since: int | None,
        labels: tuple[Requirement, ...] = (),
        fields: FieldSelector = (),
    ) -> Watch:
        """Start a watch. `since=None` replays current state as ADDED; an expired version is 410 Expired."""
        w = Watch(self, rt, namespace, matcher(labels, fields), index=_label_index(labels))
        if since is None:
            items, _ = self.list(rt, namespace, labels=labels, fields=fields)
            for obj in items:
                w.queue.put_nowait(WatchEvent("ADDED", obj))
        else:
            if since < self._compacted_rv:
                raise errors.gone(f"too old resource version: {since} ({self._compacted_rv + 1})")
            start = bisect.bisect_right(self._history_rvs, since)
            for change in self._history[start:]:
                if change.key == rt.key:
                    w.offer(change)
        if w.index is None:
            self._watchers.setdefault(rt.key, set()).add(w)
        else:
            self._indexed.setdefault(rt.key, {}).setdefault(w.index, set()).add(w)
        return w

    def _unregister(self, w: Watch) -> None:
        if w.index is None:
            self._watchers.get(w.rt.key, set()).discard(w)
            return
        by_label = self._indexed.get(w.rt.key, {})
        watchers = by_label.get(w.index)
        if watchers is not None:
            watchers.discard(w)
            if not watchers:
                del by_label[w.index]

    # -- internals --------------------------------------------------------------------------------

    def _namespace_for(self, rt: ResourceType, meta: Obj, namespace: str | None) -> str:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return ""
        ns = meta.get("namespace") or namespace
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        if not ns:
            raise errors.bad_request("the server could not find the requested resource: namespace is required")
        meta["namespace"] = ns
        return str(ns)

    def _commit(self, rt: ResourceType, ns: str, name: str, obj: Obj, *, old: Obj | None, kind: str) -> Obj:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self._objects[rt.key][(ns, name)] = obj
        if old is not None:
            self._unindex_owners(rt.key, ns, name, old)
        for ref in obj["metadata"].get("ownerReferences") or ():
            if isinstance(ref, Mapping) and ref.get("uid"):
                self._owned.setdefault(str(ref["uid"]), set()).add((rt.key, ns, name))
        self._record(_Change(self.resource_version, rt.key, kind, obj, old))
        return obj

    def _record(self, change: _Change) -> None:
        self._history.append(change)
        self._history_rvs.append(change.rv)
        if len(self._history) > self._history_limit:
            drop = len(self._history) - self._history_limit // 2  # compact in batches, not per write
            self._compacted_rv = self._history_rvs[drop - 1]
            del self._history[:drop]
            del self._history_rvs[:drop]
        for w in tuple(self._watchers.get(change.key, ())):
            w.offer(change)
        by_label = self._indexed.get(change.key)
        if by_label:
            for w in _indexed_candidates(by_label, change):
                w.offer(change)

    def _unindex_owners(self, key: str, ns: str, name: str, obj: Obj) -> None:
        for ref in obj["metadata"].get("ownerReferences") or ():
            if isinstance(ref, Mapping) and (deps := self._owned.get(str(ref.get("uid")))) is not None:
                deps.discard((key, ns, name))

    def _collect_dependents(self, owner: Obj) -> None:
        """Garbage collection: a deleted owner takes every object that names it as owner."""
        for key, ns, name in sorted(self._owned.pop(owner["metadata"]["uid"], set())):
            if (ns, name) in self._objects[key]:
                self.delete(BY_KEY[key], ns or None, name)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for key, objects in self._objects.items():
            for ns, name in [k for k in objects if k[0] == namespace]:
                if (ns, name) in objects:
                    self.delete(BY_KEY[key], ns, name)

    def all_objects(self, rt: ResourceType) -> Iterable[Obj]:
        return self._objects[rt.key].values()


def _label_index(labels: tuple[Requirement, ...]) -> tuple[str, str] | None:
    for req in labels:
        if req.op in ("=", "in") and len(req.values) == 1:
            return req.key, next(iter(req.values))
    return None


def _indexed_candidates(by_label: Mapping[tuple[str, str], set[Watch]], change: _Change) -> list[Watch]:
    """The indexed watchers whose label the changed object carries, now or before the change."""
    found: set[Watch] = set()
    for obj in (change.obj, change.old):
        labels = obj["metadata"].get("labels") if obj is not None else None
        if not isinstance(labels, Mapping):
            continue
        for key, value in labels.items():
            if isinstance(value, str) and (watchers := by_label.get((key, value))):
                found.update(watchers)
    return list(found)


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class StoreReader:
    """The read-only view authentication and RBAC use (`<group>/<plural>` keys)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._store.find(BY_KEY[resource], namespace, name)

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        return self._store.list(BY_KEY[resource], namespace)[0]
