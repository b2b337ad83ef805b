"""metadata.managedFields: which manager set which fields, by Update (create, update, patch) or Apply.

Every write records its manager (the `fieldManager` parameter, else the User-Agent's product name)
the way kube-apiserver's field manager does: an Update takes the fields it changed from whoever
held them; fields a write removes belong to no one any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certcsi.sandbox.apiserver import fieldsets
from certcsi.sandbox.apiserver.errors import ApiError, invalid_kind
from certcsi.sandbox.apiserver.fieldsets import Path
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.shapes import root

MAX_MANAGER_LENGTH = 128
_STATUS: Path = (("f", "status"),)


@dataclass
class Entry:
    manager: str
    operation: str  # Apply or Update
    api_version: str
    subresource: str = ""
    time: str = ""
    fields: set[Path] = field(default_factory=set)

    def same_slot(self, other: Entry) -> bool:
        """Apply entries are one per manager; Update entries one per manager and apiVersion."""
        if (self.manager, self.operation, self.subresource) != (other.manager, other.operation, other.subresource):
            return False
        return self.operation == "Apply" or self.api_version == other.api_version

    def encode(self, tree: Obj | None = None) -> Obj:
        """The managedFields item; `tree`, when given, is `fields` already encoded."""
        out: Obj = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldsets.encode(self.fields) if tree is None else tree
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def manager_name(query: Mapping[str, str], user_agent: str | None, *, required: bool) -> str:
    """The `fieldManager` of a write; 422 when apply sends none or any is too long or unprintable."""
    name = query.get("fieldManager", "")
    causes: list[tuple[str, str, str]] = []
    if not name:
        if required:
            causes.append(("FieldValueRequired", "fieldManager", "Required value: is required for apply patch"))
        else:
            name = (user_agent or "").split("/", 1)[0][:MAX_MANAGER_LENGTH]
    elif len(name) > MAX_MANAGER_LENGTH:
        causes.append(
            ("FieldValueTooLong", "fieldManager", f"Too long: may not be more than {MAX_MANAGER_LENGTH} bytes")
        )
    elif not name.isprintable():
        causes.append(
            ("FieldValueInvalid", "fieldManager", f"Invalid value: {name!r}: must only contain printable characters")
        )
    if causes:
        raise invalid_kind("meta.k8s.io", "PatchOptions" if required else "UpdateOptions", "", causes)
    return name


def entries_of(obj: Obj) -> list[Entry]:
    found: list[Entry] = []
    for raw in obj.get("metadata", {}).get("managedFields") or ():
        if not isinstance(raw, dict):
            continue
        found.append(
            Entry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                subresource=str(raw.get("subresource", "")),
                time=str(raw.get("time", "")),
                fields=fieldsets.decode(raw.get("fieldsV1")),
            )
        )
    return found


def store_entries(obj: Obj, entries: Iterable[Entry]) -> None:
    """Write the entries into `obj` in kube-apiserver's order (Apply first, then by time); empty ones go."""
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource))
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = [e.encode() for e in kept]
    else:
        meta.pop("managedFields", None)


def reset_paths(rt: ResourceType, subresource: str, obj: Obj) -> list[Path]:
    """What a write to this endpoint never owns: status on the main resource, the rest on /status."""
    if not rt.has_status:
        return []
    if subresource == "status":
        return [(("f", key),) for key in obj if key not in ("status", "metadata")]
    return [_STATUS]


def record_update(rt: ResourceType, old: Obj | None, new: Obj, *, manager: str, subresource: str, now: str) -> None:
    """An Update by `manager`: it takes what it changed from `old` to `new`; removed fields are no one's."""
    if old is None and not subresource:
        _record_create(rt, new, manager=manager, now=now)
        return
    entries = entries_of(old) if old is not None else []
    supplied = new.get("metadata", {}).get("managedFields")
    if old is not None and supplied is not None and supplied != old.get("metadata", {}).get("managedFields"):
        entries = entries_of(new)  # the client rewrote them; they stand (an empty list keeps none)
    shape = root(rt)
    strip_old = _without_tracking(old) if old is not None else None
    changed, removed = fieldsets.changes(strip_old, _without_tracking(new), shape)
    reset = reset_paths(rt, subresource, new)
    changed = fieldsets.strip(changed, reset=reset)
    removed = fieldsets.strip(removed)
    if not changed and not removed:
        store_entries(new, entries)  # nothing changed hands: the entries (and their times) stay as they were
        return
    mine = Entry(manager, "Update", rt.api_version, subresource, now)
    for entry in entries:
        entry.fields -= changed
        entry.fields -= removed
        if entry.same_slot(mine):
            mine.fields |= entry.fields
            entry.fields = set()
    mine.fields |= changed
    entries = [e for e in entries if e.fields]
    if mine.fields:
        entries.append(mine)
    store_entries(new, entries)


def _record_create(rt: ResourceType, new: Obj, *, manager: str, now: str) -> None:
    """A create's one entry: everything it set (but the status a main-resource write never owns), encoded
    in one walk, as `record_update` would compute and encode it from the set of paths."""
    tree = fieldsets.created(_without_tracking(new), root(rt), without=("status",) if rt.has_status else ())
    meta = new.setdefault("metadata", {})
    if tree:
        meta["managedFields"] = [Entry(manager, "Update", rt.api_version, "", now).encode(tree)]
    else:
        meta.pop("managedFields", None)


def _without_tracking(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApiError:
    """409 Conflict naming each manager and field, as kube-apiserver's apply answers."""

    def manager(entry: Entry) -> str:
        text = f'"{entry.manager}"'
        if entry.subresource:
            text += f' with subresource "{entry.subresource}"'
        if entry.operation == "Update":
            text += f" using {entry.api_version}"
            if entry.time:
                text += f" at {entry.time}"
        return text

    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {manager(e)}", "field": fieldsets.render(p)}
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager(entry)}: {fieldsets.render(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(manager(entry), []).append(fieldsets.render(path))
        lines: list[str] = []
        for who in sorted(by_manager):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {p}" for p in by_manager[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    details: dict[str, Any] = {"causes": causes}  # NewApplyConflict names no object
    return ApiError(409, "Conflict", message, details=details)
