"""Writes as kube-apiserver's handlers make them: decode, field validation, defaulting, admission,
validation, field management, then the store; `dryRun=All` goes through all of it and stores nothing.

    create   POST  collection                          201 (200 for a dry run)
    update   PUT   object or /status                   200
    patch    PATCH merge, JSON, strategic, apply       200 (201 when apply creates)
    delete   DELETE object                             200 object, or Status when gone (custom resources...)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certcsi.sandbox.apiserver import (
    admission,
    applying,
    decoding,
    defaulting,
    fieldmanager,
    patching,
    strategicpatch,
    typevalidation,
)
from certcsi.sandbox.apiserver.errors import ApiError, bad_request, invalid, invalid_kind
from certcsi.sandbox.apiserver.identity import UserInfo
from certcsi.sandbox.apiserver.objects import Obj, copy_obj, rfc3339
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.selectors import FieldSelector, Requirement
from certcsi.sandbox.apiserver.shapes import root
from certcsi.sandbox.apiserver.storage import Store, invalid_name
from certcsi.sandbox.apiserver.validation import check_metadata

_PODS, _SERVICES, _CSIDRIVERS = "/pods", "/services", "storage.k8s.io/csidrivers"
_PROPAGATION = ("Orphan", "Background", "Foreground")


@dataclass
class Write:
    """One write request: the type and object it addresses, who asks, and its query parameters."""

    store: Store
    rt: ResourceType
    namespace: str
    name: str
    subresource: str
    user: UserInfo
    query: Mapping[str, str]
    user_agent: str | None = None
    clock: Callable[[], float] = time.time
    warnings: list[str] = field(default_factory=list)

    def dry_run(self, options_kind: str) -> bool:
        """Whether `dryRun=All` was asked; 422 naming the options kind for any other value."""
        values = list(self.query.getall("dryRun", ())) if hasattr(self.query, "getall") else []
        if not values and "dryRun" in self.query:
            values = [self.query["dryRun"]]
        if any(v != "All" for v in values):
            rendered = "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"
            raise invalid_kind(
                "meta.k8s.io",
                options_kind,
                "",
                [("FieldValueNotSupported", "dryRun", f'Unsupported value: {rendered}: supported values: "All"')],
            )
        return bool(values)

    def now(self) -> str:
        return rfc3339(self.clock())

    def manager(self, *, apply: bool = False) -> str:
        return fieldmanager.manager_name(self.query, self.user_agent, required=apply)


def _accepted_bodies(rt: ResourceType) -> tuple[str, ...]:
    return decoding.CUSTOM_BODY_TYPES if rt.crd else decoding.BUILTIN_BODY_TYPES


def _decode(write: Write, raw: bytes, content_type: str | None) -> Obj:
    body = decoding.decode_body(raw, content_type, accepted=_accepted_bodies(write.rt), kind=write.rt.kind)
    return decoding.check_kind(body, kind=write.rt.kind, api_version=write.rt.api_version)


def _field_check(write: Write, obj: Obj) -> None:
    """400 for a value of the wrong type; unknown fields warned or refused per `fieldValidation`."""
    directive = decoding.field_validation(write.query)
    unknown = decoding.unknown_fields(write.rt, obj)
    write.warnings.extend(decoding.apply_directive(write.rt, unknown, directive))


def _validate(write: Write, obj: Obj, old: Obj | None) -> None:
    """Name and type rules, all causes in one 422 Invalid (custom resources: the store's schema)."""
    causes: list[tuple[str, str, str]] = []
    name = str(obj.get("metadata", {}).get("name") or "")
    if old is None and name and (problem := invalid_name(write.rt, name)) is not None:
        causes.append(("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}'))
    if write.subresource != "status":
        causes.extend(typevalidation.validate(write.rt.key, obj, old))
    if causes:
        raise invalid(write.rt, name, causes)


def _admit_create(write: Write, obj: Obj) -> None:
    rt = write.rt
    if rt.key == _PODS:
        admission.service_account(write.store, rt, obj, write.namespace)
        admission.pod_scheduling_fields(obj)
    elif rt.key == _SERVICES:
        admission.allocate_cluster_ip(write.store, obj)
    elif rt.key == _CSIDRIVERS:
        write.warnings.extend(admission.csidriver_warnings(obj))


def _namespace_of(write: Write, obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if write.rt.namespaced:
        given = meta.get("namespace")
        if given and write.namespace and given != write.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = write.namespace or given


# -- create ----------------------------------------------------------------------------------------


def create(write: Write, raw: bytes, content_type: str | None) -> tuple[int, Obj]:
    dry_run = write.dry_run("CreateOptions")
    obj = _decode(write, raw, content_type)
    _field_check(write, obj)
    check_metadata(write.rt, obj)
    manager = write.manager()
    return _create_object(write, obj, manager=manager, dry_run=dry_run, record=True)


def _create_object(write: Write, obj: Obj, *, manager: str, dry_run: bool, record: bool) -> tuple[int, Obj]:
    rt = write.rt
    _namespace_of(write, obj)
    name = str(obj["metadata"].get("name") or obj["metadata"].get("generateName") or "")
    if rt.namespaced and write.namespace:
        write.store.check_namespace_open(rt, name, write.namespace)
    defaulting.apply_defaults(rt.key, obj, creating=True)
    _admit_create(write, obj)
    _validate(write, obj, None)
    if record:
        obj.get("metadata", {}).pop("managedFields", None)
        fieldmanager.record_update(rt, None, obj, manager=manager, subresource="", now=write.now())
    # Decoded from the request or merged afresh by apply: the store need not copy it again.
    created = write.store.create(
        rt, obj, namespace=write.namespace or None, user=write.user, dry_run=dry_run, owned=True
    )
    return 201, created


# -- update ----------------------------------------------------------------------------------------


def update(write: Write, raw: bytes, content_type: str | None) -> Obj:
    dry_run = write.dry_run("UpdateOptions")
    obj = _decode(write, raw, content_type)
    _field_check(write, obj)
    check_metadata(write.rt, obj)
    meta = obj.get("metadata")
    if write.rt.namespaced and isinstance(meta, dict) and meta.get("namespace") not in (None, "", write.namespace):
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    manager = write.manager()
    old = write.store.get(write.rt, write.namespace or None, write.name)
    return _update_object(write, obj, old, manager=manager, dry_run=dry_run, record=True)


def _update_object(write: Write, obj: Obj, old: Obj, *, manager: str, dry_run: bool, record: bool) -> Obj:
    rt = write.rt
    status_write = write.subresource == "status"
    if not status_write:
        defaulting.apply_defaults(rt.key, obj, creating=False)
    meta = obj.setdefault("metadata", {})
    if isinstance(meta, dict) and not rt.namespaced:
        meta.pop("namespace", None)
    _validate(write, obj, old)
    # Only metadata is written into the view; the rest is read.
    view = {**old, "metadata": dict(old["metadata"]), "status": obj.get("status")} if status_write else obj
    if record:
        fieldmanager.record_update(rt, old, view, manager=manager, subresource=write.subresource, now=write.now())
    managed = view.get("metadata", {}).get("managedFields") or []
    updated: Obj = write.store.update(
        rt,
        obj,
        namespace=write.namespace or None,
        name=write.name,
        subresource=write.subresource,
        user=write.user,
        dry_run=dry_run,
        managed_fields=managed,
        owned=True,  # decoded from the request or patched on a copy: the store need not copy it again
    )
    return updated


# -- patch -----------------------------------------------------------------------------------------


def patch(write: Write, raw: bytes, content_type: str | None) -> tuple[int, Obj]:
    rt = write.rt
    kind = patching.patch_kind(content_type, strategic=not rt.crd)
    dry_run = write.dry_run("PatchOptions")
    if kind == patching.APPLY:
        return _apply(write, raw, dry_run=dry_run)
    manager = write.manager()
    body = decoding.decode_json(raw)
    old = write.store.get(rt, write.namespace or None, write.name)
    current = copy_obj(old)
    if kind == patching.STRATEGIC:
        patched = strategicpatch.apply(current, body, root(rt))
    else:
        patched = patching.apply_patch(kind, current, body)
    if not isinstance(patched, dict):
        raise bad_request("the patched object is not a JSON object")
    _field_check(write, patched)
    check_metadata(rt, patched)
    if patched.get("kind") not in (None, rt.kind) or patched.get("apiVersion") not in (None, rt.api_version):
        raise bad_request("the patch may not change the object's kind or apiVersion")
    if not patched.get("metadata", {}).get("resourceVersion"):
        patched.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
    return 200, _update_object(write, patched, old, manager=manager, dry_run=dry_run, record=True)


def _apply(write: Write, raw: bytes, *, dry_run: bool) -> tuple[int, Obj]:
    rt = write.rt
    manager = write.manager(apply=True)
    force = _bool(write.query, "force")
    config = decoding.decode_yaml(raw)
    if not isinstance(config, dict):
        raise bad_request("the apply patch must be an object")
    if not config.get("apiVersion") or not config.get("kind"):
        raise bad_request(
            "Object 'Kind' is missing in 'the apply patch'"
            if not config.get("kind")
            else "Object 'apiVersion' is missing in 'the apply patch'"
        )
    decoding.check_kind(config, kind=rt.kind, api_version=rt.api_version)
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("name") not in (None, write.name):
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({write.name})"
        )
    _field_check(write, config)
    check_metadata(rt, config)
    old = write.store.find(rt, write.namespace or None, write.name)
    merged = applying.apply(
        rt, old, config, manager=manager, force=force, subresource=write.subresource, now=write.now()
    )
    merged.setdefault("metadata", {})["name"] = write.name
    if old is None:
        if write.subresource:
            raise ApiError(
                404,
                "NotFound",
                f'{rt.qualified()} "{write.name}" not found',
                details={"name": write.name, "kind": rt.plural},
            )
        return _create_object(write, merged, manager=manager, dry_run=dry_run, record=False)
    merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
    return 200, _update_object(write, merged, old, manager=manager, dry_run=dry_run, record=False)


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "")
    if value in ("", "false", "False", "0", "f", "F", "FALSE"):
        return False
    if value in ("true", "True", "1", "t", "T", "TRUE"):
        return True
    raise bad_request(f'invalid value for parameter {name}: "{value}" is not a boolean')


# -- delete ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteOptions:
    grace_seconds: int | None = None
    propagation: str = "Background"
    uid: str = ""
    resource_version: str = ""


def delete_options(body: Any, query: Mapping[str, str]) -> DeleteOptions:
    """DeleteOptions from the body (if any) and the query; 400 for a malformed one."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("the request body must be a DeleteOptions object")
    pre = body.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise bad_request("preconditions: must be an object")
    uid, rv = pre.get("uid") or "", pre.get("resourceVersion") or ""
    if not isinstance(uid, str) or not isinstance(rv, str):
        raise bad_request("preconditions: uid and resourceVersion must be strings")
    grace = body.get("gracePeriodSeconds")
    if grace is None and query.get("gracePeriodSeconds"):
        text = query["gracePeriodSeconds"]
        if not text.lstrip("-").isdigit() or len(text) > 19:
            raise bad_request(f'invalid value for parameter gracePeriodSeconds: "{text}" is not an integer')
        grace = int(text)
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise bad_request("gracePeriodSeconds: must be an integer")
    propagation = body.get("propagationPolicy") or query.get("propagationPolicy") or ""
    orphan = body.get("orphanDependents")
    if orphan is None and query.get("orphanDependents"):
        orphan = query["orphanDependents"] in ("true", "1")
    if propagation and propagation not in _PROPAGATION:
        raise invalid_kind(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            [
                (
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    f'Unsupported value: "{propagation}": '
                    'supported values: "Foreground", "Background", "Orphan", "nil"',
                )
            ],
        )
    if not propagation:
        propagation = "Orphan" if orphan is True else "Background"
    return DeleteOptions(grace, propagation, uid, rv)


def _grace_for(rt: ResourceType, obj: Obj, options: DeleteOptions) -> int | None:
    """Graceful deletion is a pod's: its own period unless given, 0 when unscheduled or finished."""
    if rt.key != _PODS:
        return None
    spec: Obj = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    status: Obj = obj["status"] if isinstance(obj.get("status"), dict) else {}
    grace = options.grace_seconds
    if grace is None:
        own = spec.get("terminationGracePeriodSeconds")
        grace = own if isinstance(own, int) and not isinstance(own, bool) else 0
    phase = status.get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        grace = 0
    return max(grace, 0)


def _delete_body(raw: bytes, content_type: str | None) -> Any:
    # DeleteOptions is a built-in kind whatever is deleted: protobuf is read for custom resources too.
    if not raw:
        return None
    return decoding.decode_body(raw, content_type, accepted=decoding.BUILTIN_BODY_TYPES, kind="DeleteOptions")


def delete(write: Write, raw: bytes, content_type: str | None) -> Obj:
    dry_run = write.dry_run("DeleteOptions")
    options = delete_options(_delete_body(raw, content_type), write.query)
    rt, store = write.rt, write.store
    current = store.get(rt, write.namespace or None, write.name)
    result = store.delete(
        rt,
        write.namespace or None,
        write.name,
        precondition_uid=options.uid or None,
        precondition_rv=options.resource_version or None,
        grace_seconds=_grace_for(rt, current, options),
        propagation=options.propagation,
        dry_run=dry_run,
    )
    still_there = bool(result["metadata"].get("deletionTimestamp")) and (
        dry_run or store.find(rt, write.namespace or None, write.name) is not None
    )
    if still_there or rt.returns_deleted or rt.key == "/namespaces":
        return result
    details: dict[str, Any] = {"name": write.name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details["uid"] = result["metadata"]["uid"]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def delete_collection(
    write: Write, raw: bytes, content_type: str | None, *, labels: tuple[Requirement, ...], fields: FieldSelector
) -> Obj:
    dry_run = write.dry_run("DeleteOptions")
    options = delete_options(_delete_body(raw, content_type), write.query)
    rt, store = write.rt, write.store
    namespace = write.namespace or None
    items, _ = store.list(rt, namespace, labels=labels, fields=fields)
    deleted = []
    for obj in items:
        name = obj["metadata"]["name"]
        # An earlier deletion may have garbage-collected this one already.
        if store.find(rt, obj["metadata"].get("namespace"), name) is not obj:
            continue
        deleted.append(
            store.delete(
                rt,
                obj["metadata"].get("namespace") or None,
                name,
                grace_seconds=_grace_for(rt, obj, options),
                propagation=options.propagation,
                dry_run=dry_run,
            )
        )
    return {
        "kind": f"{rt.kind}List",
        "apiVersion": rt.api_version,
        "metadata": {"resourceVersion": str(store.resource_version)},
        "items": deleted,
    }


def finalize(write: Write, raw: bytes, content_type: str | None) -> Obj:
    """PUT namespaces/<name>/finalize: only spec.finalizers of the body counts."""
    dry_run = write.dry_run("UpdateOptions")
    body = _decode(write, raw, content_type)
    finalizers = (body.get("spec") or {}).get("finalizers") if isinstance(body.get("spec"), dict) else None
    if finalizers is not None and (not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)):
        raise bad_request("spec.finalizers: must be a list of strings")
    return write.store.finalize_namespace(write.name, list(finalizers or []), dry_run=dry_run)
