"""Request bodies in Kubernetes' protobuf encoding, for the kinds kubectl's typed clients send that way:
access reviews (`kubectl auth can-i`, `whoami`), token requests (`kubectl create token`), the
namespaces, config maps, secrets and service accounts of `kubectl create <kind>`, and DeleteOptions
(Helm deletes its release Secrets with one).

The envelope is `k8s\\x00` and a runtime.Unknown (typeMeta, raw); `raw` is the object's message, read
here into the same JSON values a JSON body would give, field numbers as k8s.io/api's generated.proto.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Union

from certcsi.sandbox.apiserver.errors import bad_request

MAGIC = b"k8s\x00"

# field number -> (JSON name, type, repeated); a type is "string", "bool", "int", "map" (string values),
# "bytesmap" (bytes values, base64 in JSON), "extra" (string-list values) or a message.
Message = Mapping[int, tuple[str, Union[str, "Message"], bool]]

_OBJECT_META: Message = {
    1: ("name", "string", False),
    2: ("generateName", "string", False),
    3: ("namespace", "string", False),
    11: ("labels", "map", False),
    12: ("annotations", "map", False),
    14: ("finalizers", "string", True),
}
_LOCAL_REFERENCE: Message = {1: ("name", "string", False)}
_RESOURCE_ATTRIBUTES: Message = {
    1: ("namespace", "string", False),
    2: ("verb", "string", False),
    3: ("group", "string", False),
    4: ("version", "string", False),
    5: ("resource", "string", False),
    6: ("subresource", "string", False),
    7: ("name", "string", False),
}
_NON_RESOURCE_ATTRIBUTES: Message = {1: ("path", "string", False), 2: ("verb", "string", False)}
_ACCESS_SPEC: Message = {
    1: ("resourceAttributes", _RESOURCE_ATTRIBUTES, False),
    2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES, False),
    3: ("user", "string", False),
    4: ("groups", "string", True),
    5: ("extra", "extra", False),
    6: ("uid", "string", False),
}
_BOUND_OBJECT: Message = {
    1: ("kind", "string", False),
    2: ("apiVersion", "string", False),
    3: ("name", "string", False),
    4: ("uid", "string", False),
}
_TOKEN_SPEC: Message = {
    1: ("audiences", "string", True),
    3: ("boundObjectRef", _BOUND_OBJECT, False),
    4: ("expirationSeconds", "int", False),
}


def _object(spec: Message | None) -> Message:
    fields: dict[int, tuple[str, str | Message, bool]] = {1: ("metadata", _OBJECT_META, False)}
    if spec is not None:
        fields[2] = ("spec", spec, False)
    return fields


def _plain(fields: Message) -> Message:
    return {1: ("metadata", _OBJECT_META, False), **fields}


KINDS: dict[str, Message] = {
    "Namespace": _object({1: ("finalizers", "string", True)}),
    "ConfigMap": _plain(
        {2: ("data", "map", False), 3: ("binaryData", "bytesmap", False), 4: ("immutable", "bool", False)}
    ),
    "Secret": _plain(
        {
            2: ("data", "bytesmap", False),
            3: ("type", "string", False),
            4: ("stringData", "map", False),
            5: ("immutable", "bool", False),
        }
    ),
    "ServiceAccount": _plain(
        {
            3: ("imagePullSecrets", _LOCAL_REFERENCE, True),
            4: ("automountServiceAccountToken", "bool", False),
        }
    ),
    "SelfSubjectAccessReview": _object(_ACCESS_SPEC),
    "SubjectAccessReview": _object(_ACCESS_SPEC),
    "LocalSubjectAccessReview": _object(_ACCESS_SPEC),
    "SelfSubjectRulesReview": _object({1: ("namespace", "string", False)}),
    "SelfSubjectReview": _object(None),
    "TokenRequest": _object(_TOKEN_SPEC),
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)}, False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
}


def _malformed() -> Exception:
    return bad_request("the request body is not a valid protobuf-encoded object")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _malformed()
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            out.append((number, value))
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise _malformed()
            out.append((number, data[at : at + size]))
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise _malformed()
    return out


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise _malformed()
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise _malformed() from None


def _map(value: int | bytes, *, kind: str) -> tuple[str, Any]:
    entry = dict(_fields(value if isinstance(value, bytes) else b""))
    key = _text(entry.get(1, b""))
    raw = entry.get(2, b"")
    if not isinstance(raw, bytes):
        raise _malformed()
    if kind == "extra":
        return key, [_text(v) for n, v in _fields(raw) if n == 1]
    if kind == "bytesmap":
        return key, base64.b64encode(raw).decode()
    return key, _text(raw)


def _message(data: bytes, schema: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind == "string":
            item: Any = _text(value)
        elif kind == "bool":
            item = bool(value)
        elif kind == "int":
            if not isinstance(value, int):
                raise _malformed()
            item = value - (1 << 64) if value >= 1 << 63 else value
        elif kind in ("map", "bytesmap", "extra"):
            key, mapped = _map(value, kind=str(kind))
            out.setdefault(name, {})[key] = mapped
            continue
        else:
            if not isinstance(value, bytes) or isinstance(kind, str):
                raise _malformed()
            item = _message(value, kind)
        if repeated:
            out.setdefault(name, []).append(item)
        else:
            out[name] = item
    return out


def decode(raw: bytes, *, kind: str) -> dict[str, Any] | None:
    """The object a protobuf body holds, or None when the sandbox does not read `kind` as protobuf."""
    schema = KINDS.get(kind)
    if schema is None:
        return None
    if not raw.startswith(MAGIC):
        raise _malformed()
    envelope = {number: value for number, value in _fields(raw[len(MAGIC) :]) if isinstance(value, bytes)}
    type_meta = dict(_fields(envelope.get(1, b"")))
    body = _message(envelope.get(2, b""), schema)
    api_version, found_kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
    if api_version:
        body["apiVersion"] = api_version
    if found_kind:
        body["kind"] = found_kind
    return body
