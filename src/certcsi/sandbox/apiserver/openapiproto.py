"""The OpenAPI v2 document in the protobuf form client-go asks for (gnostic's openapi_v2.Document,
`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): kubectl apply, create and
diff download it to validate objects and to find patch merge keys.

Only the messages and fields a Kubernetes document uses are written (protobuf wire format: varint
tags, length-delimited strings and messages), numbered as gnostic's OpenAPIv2.proto numbers them;
vendor extensions and defaults are YAML strings inside an `Any`, as gnostic stores them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

_VARINT, _LENGTH, _DOUBLE = 0, 2, 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode()) if text else b""


def _bool(number: int, flag: bool) -> bytes:
    return _varint(number << 3 | _VARINT) + b"\x01" if flag else b""


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value) if value else b""


def _any_yaml(value: Any) -> bytes:
    # gnostic keeps extension values as YAML text; JSON is YAML.
    return _string(2, json.dumps(value, separators=(",", ":")))


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + _field(2, _any_yaml(value))


def _extensions(number: int, node: Mapping[str, Any]) -> bytes:
    return b"".join(_field(number, _named_any(k, v)) for k, v in node.items() if k.startswith("x-"))


def schema(node: Mapping[str, Any]) -> bytes:
    """openapi_v2.Schema."""
    out = [
        _string(1, str(node.get("$ref", ""))),
        _string(2, str(node.get("format", ""))),
        _string(4, str(node.get("description", ""))),
    ]
    if "default" in node:
        out.append(_field(5, _any_yaml(node["default"])))
    for key, number in (("maxLength", 11), ("minLength", 12), ("maxItems", 14), ("minItems", 15)):
        if isinstance(node.get(key), int):
            out.append(_int(number, node[key]))
    out.extend(_string(19, str(name)) for name in node.get("required") or ())
    out.extend(_field(20, _any_yaml(value)) for value in node.get("enum") or ())
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out.append(_field(21, _field(1, schema(additional))))
    elif isinstance(additional, bool):
        out.append(_field(21, _varint(2 << 3 | _VARINT) + (b"\x01" if additional else b"\x00")))
    if node.get("type"):
        out.append(_field(22, _string(1, str(node["type"]))))
    if isinstance(node.get("items"), dict):
        out.append(_field(23, _field(1, schema(node["items"]))))
    out.extend(_field(24, schema(sub)) for sub in node.get("allOf") or () if isinstance(sub, dict))
    properties = node.get("properties")
    if isinstance(properties, dict) and properties:
        named = b"".join(_field(1, _string(1, k) + _field(2, schema(v))) for k, v in properties.items())
        out.append(_field(25, named))
    out.append(_extensions(31, node))
    return b"".join(out)


def _parameter(param: Mapping[str, Any]) -> bytes:
    """openapi_v2.ParametersItem holding a Parameter (body, query or path)."""
    where = param.get("in")
    if where == "body":
        body = (
            _string(1, str(param.get("description", "")))
            + _string(2, str(param["name"]))
            + _string(3, "body")
            + _bool(4, bool(param.get("required")))
            + _field(5, schema(param.get("schema") or {}))
        )
        return _field(1, _field(1, body))
    common = (
        _bool(1, bool(param.get("required"))) + _string(2, str(where)) + _string(3, str(param.get("description", "")))
    )
    common += _string(4, str(param["name"]))
    if where == "path":
        sub = _field(4, common + _string(5, str(param.get("type", "string"))))
    else:
        sub = _field(3, common + _bool(5, False) + _string(6, str(param.get("type", "string"))))
    return _field(1, _field(2, sub))


def _operation(op: Mapping[str, Any]) -> bytes:
    out = [b"".join(_string(1, t) for t in op.get("tags") or ())]
    out.append(_string(3, str(op.get("description", ""))))
    out.append(_string(5, str(op.get("operationId", ""))))
    out.extend(_string(6, p) for p in op.get("produces") or ())
    out.extend(_string(7, c) for c in op.get("consumes") or ())
    out.extend(_field(8, _parameter(p)) for p in op.get("parameters") or ())
    codes = []
    for code, response in (op.get("responses") or {}).items():
        body = _string(1, str(response.get("description", "")))
        if isinstance(response.get("schema"), dict):
            body += _field(2, _field(1, schema(response["schema"])))
        codes.append(_field(1, _string(1, str(code)) + _field(2, _field(1, body))))
    out.append(_field(9, b"".join(codes)))
    out.extend(_string(10, s) for s in op.get("schemes") or ())
    out.append(_extensions(13, op))
    return b"".join(out)


_METHODS = (("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("head", 7), ("patch", 8))


def _path_item(item: Mapping[str, Any]) -> bytes:
    out = [_field(number, _operation(item[method])) for method, number in _METHODS if method in item]
    out.extend(_field(9, _parameter(p)) for p in item.get("parameters") or ())
    return b"".join(out)


def _named(entries: Iterable[tuple[str, bytes]]) -> bytes:
    return b"".join(_field(1, _string(1, name) + _field(2, value)) for name, value in entries)


def document(doc: Mapping[str, Any]) -> bytes:
    """A Swagger 2.0 document (as JSON-shaped values) as an openapi_v2.Document message."""
    info = doc.get("info") or {}
    paths = b"".join(
        _field(2, _string(1, path) + _field(2, _path_item(item))) for path, item in (doc.get("paths") or {}).items()
    )
    definitions = _named((name, schema(node)) for name, node in (doc.get("definitions") or {}).items())
    return (
        _string(1, str(doc.get("swagger", "2.0")))
        + _field(2, _string(1, str(info.get("title", ""))) + _string(2, str(info.get("version", ""))))
        + _field(8, paths)
        + _field(9, definitions)
    )
