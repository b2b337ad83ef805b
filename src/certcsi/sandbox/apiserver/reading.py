"""Reads as kube-apiserver answers them: one object, a list (paged by `limit` and `continue`), or a
watch stream, each as JSON/YAML objects, a Table, or metadata only, as the Accept header asks.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping

from certcsi.sandbox.apiserver import tables
from certcsi.sandbox.apiserver.encoding import encode
from certcsi.sandbox.apiserver.errors import ApiError, bad_request, gone
from certcsi.sandbox.apiserver.negotiation import Output
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.selectors import FieldSelector, Requirement
from certcsi.sandbox.apiserver.storage import Store, WatchEvent

_CONTINUE_VERSION = "meta.k8s.io/v1"
_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def parse_resource_version(value: str | None) -> int | None:
    """A list or watch `resourceVersion`: None when unset or "0"; 500 when not a number, as kube-apiserver
    (its storage layer's parse error surfaces as an internal error)."""
    if value is None or value in ("", "0"):
        return None
    if value.isascii() and value.isdigit() and len(value) <= 20 and int(value) < 1 << 64:
        return int(value)
    reason = "value out of range" if value.isascii() and value.isdigit() else "invalid syntax"
    cause = f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing "{value}": {reason}'
    raise _internal(cause)


def _internal(cause: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {cause}", details={"causes": [{"message": cause}]})


def parse_limit(query: Mapping[str, str]) -> int:
    value = query.get("limit", "")
    if not value:
        return 0
    if not (value.isascii() and value.lstrip("-").isdigit() and len(value) <= 19):
        raise bad_request(f'invalid value for parameter limit: "{value}" is not an integer')
    return max(int(value), 0)


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    start = f"{key[0]}/{key[1]}" if key[0] else key[1]
    token = {"v": _CONTINUE_VERSION, "rv": rv, "start": start + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def decode_continue(token: str, *, namespaced: bool) -> tuple[int, tuple[str, str]]:
    """(resourceVersion, last key) of a `continue` token; 400 when it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        rv, start = raw["rv"], raw["start"]
        if raw.get("v") != _CONTINUE_VERSION or not isinstance(rv, int) or not isinstance(start, str):
            raise ValueError("unexpected fields")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise bad_request("continue key is not valid: the token is not one this server issued") from None
    start = start.rstrip("\x00")
    namespace, _, name = start.rpartition("/") if namespaced else ("", "", start)
    return rv, (namespace, name)


def list_objects(
    store: Store,
    rt: ResourceType,
    namespace: str | None,
    query: Mapping[str, str],
    *,
    labels: tuple[Requirement, ...],
    fields: FieldSelector,
) -> tuple[list[Obj], Obj]:
    """The page a list asks for, and its ListMeta (resourceVersion, continue, remainingItemCount)."""
    limit = parse_limit(query)
    parse_resource_version(query.get("resourceVersion"))
    token = query.get("continue", "")
    after: tuple[str, str] | None = None
    rv = store.resource_version
    if token:
        if query.get("resourceVersion") not in (None, "", "0"):
            raise bad_request("specifying resource version is not allowed when using continue")
        rv, after = decode_continue(token, namespaced=rt.namespaced)
        if rv < store.compacted_version:
            raise gone(_TOO_OLD)
    items, remaining = store.page(rt, namespace, labels=labels, fields=fields, after=after, limit=limit)
    meta: Obj = {"resourceVersion": str(rv)}
    if remaining and items:
        last = items[-1]["metadata"]
        meta["continue"] = _encode_continue(rv, (last.get("namespace", ""), last["name"]))
        if not labels and not fields:
            meta["remainingItemCount"] = remaining
    return items, meta


def list_body(rt: ResourceType, items: list[Obj], meta: Obj, output: Output, query: Mapping[str, str]) -> Obj:
    if output.form == "table":
        return tables.table(
            rt, items, list_meta=meta, include=tables.include_object(query.get("includeObject")), version=output.version
        )
    if output.form == "metadata":
        return tables.metadata_list(items, list_meta=meta, version=output.version)
    return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items}


def object_body(rt: ResourceType, obj: Obj, output: Output, query: Mapping[str, str]) -> Obj:
    if output.form == "table":
        meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        return tables.table(
            rt, [obj], list_meta=meta, include=tables.include_object(query.get("includeObject")), version=output.version
        )
    if output.form == "metadata":
        return tables.partial_metadata(obj, output.version)
    return obj


def event_converter(rt: ResourceType, output: Output, query: Mapping[str, str]) -> Callable[[WatchEvent], bytes]:
    """How each watch event goes on the wire in the negotiated form."""
    if output.form == "object":
        return WatchEvent.line
    include = tables.include_object(query.get("includeObject"))

    def convert(event: WatchEvent) -> bytes:
        if event.type in ("ERROR", "BOOKMARK"):
            obj = event.object
        elif output.form == "table":
            meta = {"resourceVersion": event.object.get("metadata", {}).get("resourceVersion", "")}
            obj = tables.table(rt, [event.object], list_meta=meta, include=include, version=output.version)
        else:
            obj = tables.partial_metadata(event.object, output.version)
        return encode({"type": event.type, "object": obj}) + b"\n"

    return convert
