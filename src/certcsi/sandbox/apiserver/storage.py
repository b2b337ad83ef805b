"""The in-memory object store behind the sandbox API, with what kube-apiserver's generic registry does
for every type: versions, watches, finalizers and graceful deletion, namespace termination, owners
(garbage collection), CustomResourceDefinitions and their custom resources' schemas, dry runs.

Every method runs synchronously on the event loop, so each call is atomic with respect to every
other; watchers are fed in the same step as the write, which is what makes list-then-watch exact.
Stored objects are never handed out for mutation: reads return the stored dict, which callers must
treat as read-only (use `copy_obj` before changing one).

Type-specific defaulting and validation of built-in kinds happen in front of the store (requests.py);
writes made here directly (by the sandbox's controllers and tests) are trusted like writes to etcd.
"""

from __future__ import annotations

import bisect
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from certcsi.sandbox.apiserver import customresources, errors, names
from certcsi.sandbox.apiserver.catalog import Catalog
from certcsi.sandbox.apiserver.identity import ObjectReader
from certcsi.sandbox.apiserver.indexing import TableIndex
from certcsi.sandbox.apiserver.objects import Obj, copy_obj, now_rfc3339, rfc3339
from certcsi.sandbox.apiserver.resources import APIEXTENSIONS, BY_KEY, RBAC, ResourceType
from certcsi.sandbox.apiserver.selectors import FieldSelector, Requirement, matcher
from certcsi.sandbox.apiserver.watches import Change, Watch, WatchEvent, indexed_candidates, label_index

__all__ = ["Obj", "ObjectReader", "Store", "StoreReader", "Watch", "WatchEvent", "copy_obj", "now_rfc3339"]

ObjList = list[Obj]  # `list` inside Store names its method
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what kube-apiserver's name generator uses
_NAMESPACES = BY_KEY["/namespaces"]
_PODS = BY_KEY["/pods"]
CRDS = BY_KEY[f"{APIEXTENSIONS}/customresourcedefinitions"]
NAMESPACE_FINALIZER = "kubernetes"
# Types whose spec changes move metadata.generation (custom resources always do).
_GENERATION_KEYS = frozenset(
    {"/pods", "apps/daemonsets", "apps/deployments", f"{APIEXTENSIONS}/customresourcedefinitions"}
)
_IMMUTABLE_META = ("uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp")


class Admission(Protocol):
    """An admission plugin (cert-manager's webhook role): validate `obj`, raising ApiError to refuse.

    A plugin may also define `mutate` with the same parameters: it runs before schema validation,
    `admit` after it, as mutating and validating webhooks do.
    """

    def admit(self, *, operation: str, rt: ResourceType, obj: Obj, old: Obj | None, user: Any | None) -> None: ...


def invalid_name(rt: ResourceType, name: str) -> str | None:
    """Why `name` is not a valid object name for `rt` (kube-apiserver's message), or None."""
    if rt.group == RBAC:  # RBAC names are path segments: "system:controller:x" is valid
        bad = name in (".", "..") or "/" in name or "%" in name
        return "may not contain '/' or '%' and may not be '.' or '..'" if bad else None
    problems = names.dns1123_label(name) if rt.key == _NAMESPACES.key else names.dns1123_subdomain(name)
    return "; ".join(problems) or None


class Store:
    """Objects by type, namespace and name; one global resourceVersion; bounded change history."""

    def __init__(self, *, history: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.catalog = Catalog()
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._indexes: dict[str, TableIndex] = {}  # where lists look, by type
        self._watchers: dict[str, set[Watch]] = {}  # watchers without a label index, by type
        # Watchers whose selector requires label k=v, by type and (k, v): one node's watch per label.
        self._indexed: dict[str, dict[tuple[str, str], set[Watch]]] = {}
        self._history: list[Change] = []
        self._history_rvs: list[int] = []
        self._history_limit = history
        self._compacted_rv = 0  # changes at or below this version are no longer retained
        self._owned: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> dependents (key, ns, name)
        self._foreground: dict[str, tuple[str, str, str]] = {}  # owners deleted in the foreground, by uid
        self._changes: dict[str, int] = {}  # writes and removals so far, by type (caches built on a type check it)
        self.resource_version = 0
        self.admission: list[Admission] = []
        self._clock = clock
        for crd in customresources.packaged():
            self.create(CRDS, crd)

    def _table(self, key: str) -> dict[tuple[str, str], Obj]:
        table = self._objects.get(key)
        if table is None:
            table = self._objects[key] = {}
        return table

    def _index(self, key: str) -> TableIndex:
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = TableIndex()
        return index

    # -- reads ------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._table(rt.key).get((namespace or "", name))
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self._table(rt.key).get((namespace or "", name))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: tuple[Requirement, ...] = (),
        fields: FieldSelector = (),
    ) -> tuple[ObjList, int]:
        items, _ = self.page(rt, namespace, labels=labels, fields=fields)
        return items, self.resource_version

    def page(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: tuple[Requirement, ...] = (),
        fields: FieldSelector = (),
        after: tuple[str, str] | None = None,
        limit: int = 0,
    ) -> tuple[ObjList, int]:
        """Matching objects in (namespace, name) order after `after`, at most `limit` (0: all), and
        how many more match beyond the page."""
        match = matcher(labels, fields)
        table = self._table(rt.key)
        found = self._index(rt.key).candidates(namespace, labels, fields)
        if found is None:
            keys = sorted(k for k in table if namespace is None or k[0] == namespace)
        else:
            keys = sorted(k for k in found if k in table)
        if after is not None:
            keys = keys[bisect.bisect_right(keys, after) :]
        items: ObjList = []
        remaining = 0
        for key in keys:
            obj = table[key]
            if not match(obj):
                continue
            if limit and len(items) >= limit:
                remaining += 1
            else:
                items.append(obj)
        return items, remaining

    # -- writes -----------------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        namespace: str | None = None,
        user: Any | None = None,
        dry_run: bool = False,
        owned: bool = False,
    ) -> Obj:
        """Store a new object; `owned` says `obj` is the caller's to give (no copy is made of it)."""
        if not owned:
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
        if (problem := invalid_name(rt, name)) is not None:
            raise errors.invalid(
                rt, name, [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}')]
            )
        if rt.namespaced:
            self.check_namespace_open(rt, name, ns)
        existing = self._table(rt.key).get((ns, name))
        if existing is not None:
            raise errors.already_exists(rt, name, deleting=bool(existing["metadata"].get("deletionTimestamp")))
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self._clock)
        if rt.crd or rt.key in _GENERATION_KEYS:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self._prepare_create(rt, obj)
        self._admit("CREATE", rt, obj, None, user)
        if dry_run:
            return obj
        created = self._commit(rt, ns, name, obj, old=None, kind="ADDED")
        if rt.key == CRDS.key:
            self.catalog.install(created)
        return created

    def _prepare_create(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if rt.key == _NAMESPACES.key:
            spec = obj.setdefault("spec", {})
            if isinstance(spec, dict):
                spec.setdefault("finalizers", [NAMESPACE_FINALIZER])
            obj["status"] = {"phase": "Active"}
        elif rt.key == _PODS.key:
            given = obj.get("status")
            qos = given.get("qosClass") if isinstance(given, dict) else None
            obj["status"] = {"phase": "Pending", **({"qosClass": qos} if qos else {})}
        elif rt.key == CRDS.key:
            customresources.default(obj)
            causes = customresources.validate(obj, None)
            if causes:
                raise errors.invalid(rt, str(meta.get("name", "")), [c.as_tuple() for c in causes])
            obj["status"] = customresources.status_for(obj, meta["creationTimestamp"])
        elif rt.crd and rt.has_status:
            obj.pop("status", None)  # the status subresource owns it; a create never sets it

    def update(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        namespace: str | None,
        name: str,
        subresource: str = "",
        user: Any | None = None,
        dry_run: bool = False,
        managed_fields: ObjList | None = None,
        owned: bool = False,
    ) -> Obj:
        """PUT semantics: optimistic concurrency on metadata.resourceVersion when the body carries one.

        `managed_fields`, when given, replaces metadata.managedFields (a /status write included);
        `owned` says `obj` is the caller's to keep (no copy is made of it)."""
        ns = namespace or ""
        old = self.get(rt, namespace, name)
        meta = obj.get("metadata") or {}
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        rv = meta.get("resourceVersion")
        if rv in (None, "") and rt.crd:
            raise errors.invalid_for_resource(
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
        new = self._merge_update(rt, old, obj, subresource, owned=owned)
        if managed_fields is not None:
            if managed_fields:
                new["metadata"]["managedFields"] = managed_fields
            else:
                new["metadata"].pop("managedFields", None)
        if new == {**old, "metadata": {**old["metadata"]}}:
            return old  # a no-op write neither bumps the version nor wakes watchers, as in Kubernetes
        self._check_finalizers(rt, name, old, new)
        self._admit("UPDATE", rt, new, old, user)
        if dry_run:
            return new
        finished = new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers")
        if finished and old["metadata"].get("deletionGracePeriodSeconds", 0) == 0:
            return self._remove(rt, ns, name, new)
        updated = self._commit(rt, ns, name, new, old=old, kind="MODIFIED")
        if rt.key == CRDS.key:
            self.catalog.install(updated)
        return updated

    def _merge_update(self, rt: ResourceType, old: Obj, obj: Obj, subresource: str, *, owned: bool) -> Obj:
        """The object to store: `obj` (copied unless `owned`) over `old`'s immutable parts. Stored objects
        are never changed in place, so a status write shares everything but metadata and status."""
        if subresource == "status":
            status = obj.get("status") if owned else copy_obj(obj.get("status"))
            new = {**old, "metadata": dict(old["metadata"]), "status": status}
            if status is None:
                del new["status"]
            return new
        new = obj if owned else copy_obj(obj)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        new_meta = new.setdefault("metadata", {})
        for immutable in _IMMUTABLE_META:
            if immutable in old["metadata"]:
                new_meta[immutable] = old["metadata"][immutable]
            else:
                new_meta.pop(immutable, None)
        if "deletionGracePeriodSeconds" in old["metadata"]:
            new_meta["deletionGracePeriodSeconds"] = old["metadata"]["deletionGracePeriodSeconds"]
        if rt.has_status:
            if "status" in old:
                new["status"] = copy_obj(old["status"])
            else:
                new.pop("status", None)
        if rt.key == CRDS.key:
            customresources.default(new)
            causes = customresources.validate(new, old)
            if causes:
                raise errors.invalid(rt, str(new_meta.get("name", "")), [c.as_tuple() for c in causes])
            new["status"] = customresources.status_for(new, now_rfc3339(self._clock))
            if new["status"]["conditions"] and "status" in old:
                new["status"]["conditions"] = old["status"].get("conditions", new["status"]["conditions"])
        if "generation" in new_meta and _spec_of(new) != _spec_of(old):
            new_meta["generation"] = old["metadata"]["generation"] + 1
        return new

    def _check_finalizers(self, rt: ResourceType, name: str, old: Obj, new: Obj) -> None:
        if not old["metadata"].get("deletionTimestamp"):
            return
        before = set(old["metadata"].get("finalizers") or ())
        added = [f for f in new["metadata"].get("finalizers") or () if f not in before]
        if added:
            listed = ", ".join(json.dumps(f) for f in added)
            raise errors.invalid(
                rt,
                name,
                [
                    (
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers []string{{{listed}}}",
                    )
                ],
            )

    def mutate(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], None],
        *,
        subresource: str = "",
        user: Any | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Read-modify-write of the current object (the basis of PATCH); `change` edits a copy.

        A /status write keeps nothing but the status of what `change` made, so only the status (and
        the top level of metadata) is copied for it: `change` must leave the rest as it is."""
        stored = self.get(rt, namespace, name)
        if subresource == "status":
            current = {**stored, "metadata": dict(stored["metadata"]), "status": copy_obj(stored.get("status"))}
            if current["status"] is None:
                del current["status"]
        else:
            current = copy_obj(stored)
        rv = current["metadata"]["resourceVersion"]
        change(current)
        current.setdefault("metadata", {})
        if not current["metadata"].get("resourceVersion"):
            current["metadata"]["resourceVersion"] = rv
        updated: Obj = self.update(
            rt, current, namespace=namespace, name=name, subresource=subresource, user=user, dry_run=dry_run, owned=True
        )
        return updated

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
        grace_seconds: int | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> Obj:
        """Delete, or start deleting: an object with finalizers (or a graceful pod) gets a
        deletionTimestamp and stays until they are gone. Returns the object as it now is (or was)."""
        ns = namespace or ""
        old = self.get(rt, namespace, name)
        _check_preconditions(rt, name, old, precondition_uid, precondition_rv)
        if rt.key == _NAMESPACES.key:
            return self._terminate_namespace(name, old, dry_run=dry_run)
        marked = self._mark_deleting(rt, old, grace_seconds, propagation)
        if marked is not None:
            if dry_run:
                return marked
            if marked is old:
                return old
            committed = self._commit(rt, ns, name, marked, old=old, kind="MODIFIED")
            if "foregroundDeletion" in (committed["metadata"].get("finalizers") or ()):
                uid = committed["metadata"]["uid"]
                self._foreground[uid] = (rt.key, ns, name)
                self._collect_dependents(committed, propagation="Background")
                self._finish_foreground(uid)
                return self.find(rt, ns or None, name) or committed
            return committed
        if dry_run:
            return old
        if propagation == "Orphan":
            self._orphan_dependents(old)
        return self._remove(rt, ns, name, old)

    def _mark_deleting(self, rt: ResourceType, old: Obj, grace: int | None, propagation: str) -> Obj | None:
        """The object with its deletion recorded, `old` if nothing changes, or None to remove it now."""
        meta = old["metadata"]
        finalizers = list(meta.get("finalizers") or ())
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers and not meta.get("deletionTimestamp"):
            finalizers.append("foregroundDeletion")
        grace = grace or 0
        if not finalizers and grace <= 0:
            return None
        current = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and (current is None or grace >= current):
            return old if finalizers or current else None
        marked = copy_obj(old)
        mmeta = marked["metadata"]
        mmeta["deletionTimestamp"] = rfc3339(self._clock() + grace)
        mmeta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            mmeta["finalizers"] = finalizers
        if grace <= 0 and not finalizers:
            return None
        return marked

    def _remove(self, rt: ResourceType, ns: str, name: str, old: Obj) -> Obj:
        del self._table(rt.key)[(ns, name)]
        self._index(rt.key).remove((ns, name), old["metadata"].get("labels"))
        self.resource_version += 1
        # Stored objects are never changed in place: the last state shares all but its metadata.
        gone: Obj = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.resource_version)}}
        self._unindex_owners(rt.key, ns, name, old)
        self._record(Change(self.resource_version, rt.key, "DELETED", gone, old))
        self._collect_dependents(old, propagation="Background")
        for ref in old["metadata"].get("ownerReferences") or ():
            if isinstance(ref, Mapping) and str(ref.get("uid")) in self._foreground:
                self._finish_foreground(str(ref.get("uid")))
        if rt.key == CRDS.key:
            self._drop_custom_resources(str(old["metadata"]["name"]))
        if ns:
            self._finish_namespace_if_empty(ns)
        return gone

    # -- namespaces ------------------------------------------------------------------------------

    def check_namespace_open(self, rt: ResourceType, name: str, ns: str) -> None:
        """NamespaceLifecycle: 404 when `ns` does not exist, 403 while it terminates."""
        namespace = self._table(_NAMESPACES.key).get(("", ns))
        if namespace is None:
            raise errors.ApiError(
                404, "NotFound", f'namespaces "{ns}" not found', details={"name": ns, "kind": "namespaces"}
            )
        if namespace["metadata"].get("deletionTimestamp"):
            raise errors.namespace_terminating(rt, name, ns)

    def _terminate_namespace(self, name: str, old: Obj, *, dry_run: bool) -> Obj:
        """Terminating: every object in it is deleted; the namespace goes when its content has gone."""
        if old["metadata"].get("deletionTimestamp"):
            return old
        terminating = copy_obj(old)
        terminating["metadata"]["deletionTimestamp"] = now_rfc3339(self._clock)
        terminating["metadata"]["deletionGracePeriodSeconds"] = 0
        terminating["status"] = {**(terminating.get("status") or {}), "phase": "Terminating"}
        if dry_run:
            return terminating
        committed = self._commit(_NAMESPACES, "", name, terminating, old=old, kind="MODIFIED")
        for key, objects in list(self._objects.items()):
            rt = self._type_for(key)
            for ns, obj_name in [k for k in objects if k[0] == name]:
                if (ns, obj_name) in objects and not objects[(ns, obj_name)]["metadata"].get("deletionTimestamp"):
                    # The namespace controller deletes pods with their own grace period.
                    grace = _pod_grace(objects[(ns, obj_name)]) if key == _PODS.key else None
                    self.delete(rt, ns, obj_name, grace_seconds=grace)
        self._finish_namespace_if_empty(name)
        return self.find(_NAMESPACES, None, name) or committed

    def _finish_namespace_if_empty(self, name: str) -> None:
        namespace = self._table(_NAMESPACES.key).get(("", name))
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        if any(k[0] == name for objects in self._objects.values() for k in objects):
            return
        finalized = copy_obj(namespace)
        spec = finalized.get("spec") or {}
        spec.pop("finalizers", None)
        if finalized["metadata"].get("finalizers"):
            self._commit(_NAMESPACES, "", name, finalized, old=namespace, kind="MODIFIED")
            return
        self._remove(_NAMESPACES, "", name, finalized)

    # -- watches ----------------------------------------------------------------------------------

    @property
    def compacted_version(self) -> int:
        """Versions at or below this can no longer be watched or continued from."""
        return self._compacted_rv

    def finalize_namespace(self, name: str, finalizers: ObjList | Any, *, dry_run: bool = False) -> Obj:
        """The namespace /finalize subresource: set spec.finalizers; a terminating, empty namespace with
        none left goes."""
        old = self.get(_NAMESPACES, None, name)
        new = copy_obj(old)
        new.setdefault("spec", {})["finalizers"] = finalizers
        if not finalizers:
            new["spec"].pop("finalizers")
        if dry_run or new == old:
            return new
        committed = self._commit(_NAMESPACES, "", name, new, old=old, kind="MODIFIED")
        self._finish_namespace_if_empty(name)
        return self.find(_NAMESPACES, None, name) or committed

    def start_watch_cache(self) -> None:
        """kube-apiserver's watch cache starts from a list at the current version: older versions,
        and whatever happened before, can no longer be watched from (410 Expired)."""
        self._compacted_rv = max(self._compacted_rv, self.resource_version)
        start = bisect.bisect_right(self._history_rvs, self._compacted_rv)
        del self._history[:start]
        del self._history_rvs[:start]

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
        w = Watch(self, rt, namespace, matcher(labels, fields), index=label_index(labels))
        if since is None:
            items, _ = self.list(rt, namespace, labels=labels, fields=fields)
            for obj in items:
                w.queue.put_nowait(WatchEvent("ADDED", obj))
        else:
            if since < self._compacted_rv:
                raise errors.gone(f"too old resource version: {since} ({self._compacted_rv})")
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

    def _type_for(self, key: str) -> ResourceType:
        return self.catalog.by_key(key) or BY_KEY[key]

    def _admit(self, operation: str, rt: ResourceType, obj: Obj, old: Obj | None, user: Any | None) -> None:
        served = self.catalog.by_key(rt.key) if rt.crd else None
        schema = served.custom.schema if served is not None and served.custom is not None else None
        if schema is not None:
            schema.prune_and_default(obj, old)
        for plugin in self.admission:
            mutate = getattr(plugin, "mutate", None)
            if mutate is not None:
                mutate(operation=operation, rt=rt, obj=obj, old=old, user=user)
        if schema is not None:
            causes = schema.validate(obj, old)
            if causes:
                raise errors.invalid(rt, str(obj["metadata"].get("name", "")), [c.as_tuple() for c in causes])
        for plugin in self.admission:
            plugin.admit(operation=operation, rt=rt, obj=obj, old=old, user=user)

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
        self._table(rt.key)[(ns, name)] = obj
        old_labels = old["metadata"].get("labels") if old is not None else None
        self._index(rt.key).put((ns, name), obj["metadata"].get("labels"), old_labels, existed=old is not None)
        if old is not None:
            self._unindex_owners(rt.key, ns, name, old)
        for ref in obj["metadata"].get("ownerReferences") or ():
            if isinstance(ref, Mapping) and ref.get("uid"):
                self._owned.setdefault(str(ref["uid"]), set()).add((rt.key, ns, name))
        self._record(Change(self.resource_version, rt.key, kind, obj, old))
        return obj

    def changes(self, key: str) -> int:
        """How many times objects of type `key` were written or removed: equal counts, same objects."""
        return self._changes.get(key, 0)

    def _record(self, change: Change) -> None:
        self._changes[change.key] = self._changes.get(change.key, 0) + 1
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
            for w in indexed_candidates(by_label, change):
                w.offer(change)

    def _unindex_owners(self, key: str, ns: str, name: str, obj: Obj) -> None:
        for ref in obj["metadata"].get("ownerReferences") or ():
            if isinstance(ref, Mapping) and (deps := self._owned.get(str(ref.get("uid")))) is not None:
                deps.discard((key, ns, name))

    def _collect_dependents(self, owner: Obj, *, propagation: str) -> None:
        """Garbage collection: a deleted owner takes every object that names it as owner."""
        uid = owner["metadata"]["uid"]
        for key, ns, name in sorted(self._owned.get(uid, set())):
            dependent = self._table(key).get((ns, name))
            if dependent is not None and not dependent["metadata"].get("deletionTimestamp"):
                grace = _pod_grace(dependent) if key == _PODS.key else None
                self.delete(self._type_for(key), ns or None, name, grace_seconds=grace, propagation=propagation)
        if not self._owned.get(uid):
            self._owned.pop(uid, None)

    def _finish_foreground(self, uid: str) -> None:
        """A foreground-deleted owner loses its finalizer (and goes) once no dependent is left."""
        place = self._foreground.get(uid)
        if place is None or self._owned.get(uid):
            return
        del self._foreground[uid]
        key, ns, name = place
        owner = self._table(key).get((ns, name))
        if owner is None:
            return
        done = copy_obj(owner)
        done["metadata"]["finalizers"] = [f for f in done["metadata"]["finalizers"] if f != "foregroundDeletion"]
        self.update(self._type_for(key), done, namespace=ns or None, name=name)

    def _orphan_dependents(self, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for key, ns, name in sorted(self._owned.pop(uid, set())):
            dependent = self._table(key).get((ns, name))
            if dependent is None:
                continue
            freed = copy_obj(dependent)
            refs = [r for r in freed["metadata"].get("ownerReferences") or () if r.get("uid") != uid]
            if refs:
                freed["metadata"]["ownerReferences"] = refs
            else:
                freed["metadata"].pop("ownerReferences", None)
            self._commit(self._type_for(key), ns, name, freed, old=dependent, kind="MODIFIED")

    def _drop_custom_resources(self, crd_name: str) -> None:
        for rt in self.catalog.remove(crd_name):
            for ns, name in list(self._table(rt.key)):
                if (ns, name) in self._table(rt.key):
                    self._remove(rt, ns, name, self._table(rt.key)[(ns, name)])

    def all_objects(self, rt: ResourceType) -> Iterable[Obj]:
        return self._table(rt.key).values()


def _pod_grace(pod: Obj) -> int:
    """How long deleting this pod takes by default: 0 when no kubelet runs it, else its grace period."""
    spec: Obj = pod["spec"] if isinstance(pod.get("spec"), dict) else {}
    status: Obj = pod["status"] if isinstance(pod.get("status"), dict) else {}
    phase = status.get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    grace = spec.get("terminationGracePeriodSeconds")
    return grace if isinstance(grace, int) and not isinstance(grace, bool) and grace >= 0 else 30


def _check_preconditions(rt: ResourceType, name: str, old: Obj, uid: str | None, rv: str | None) -> None:
    meta = old["metadata"]
    if uid and uid != meta["uid"]:
        raise errors.precondition_failed(rt, name, f"UID in precondition: {uid}, UID in object meta: {meta['uid']}")
    if rv and rv != meta["resourceVersion"]:
        raise errors.precondition_failed(
            rt,
            name,
            f"ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {meta['resourceVersion']}",
        )


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class StoreReader:
    """The read-only view authentication and RBAC use (`<group>/<plural>` keys)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        rt = self._store.catalog.by_key(resource) or BY_KEY[resource]
        return self._store.find(rt, namespace, name)

    def list(self, resource: str, namespace: str | None) -> ObjList:
        rt = self._store.catalog.by_key(resource) or BY_KEY[resource]
        return self._store.list(rt, namespace)[0]

    def changes(self, *resources: str) -> int:
        """Writes and removals of these types so far: while it stays the same, so do their objects."""
        return sum(self._store.changes(resource) for resource in resources)
