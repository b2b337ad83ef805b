"""The protobuf the sandbox writes (the OpenAPI v2 document) and reads (kubectl's typed bodies)."""

from __future__ import annotations

import pytest

from certcsi.sandbox.apiserver import openapiproto, protobodies
from certcsi.sandbox.apiserver.errors import ApiError


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_a_definition_encodes_with_gnostics_field_numbers() -> None:
    doc = {"swagger": "2.0", "definitions": {"X": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    fields = dict(protobodies._fields(openapiproto.document(doc)))
    definitions = dict(protobodies._fields(fields[9]))  # Definitions.additional_properties = 1
    named = dict(protobodies._fields(definitions[1]))  # NamedSchema: name = 1, value = 2
    assert named[1] == b"X"
    schema = dict(protobodies._fields(named[2]))
    assert dict(protobodies._fields(schema[22])) == {1: b"object"}  # Schema.type = 22, TypeItem.value = 1


def test_a_kubectl_namespace_body_decodes() -> None:
    meta = _field(1, b"demo") + _field(11, _field(1, b"team") + _field(2, b"a"))
    envelope = _field(1, _field(1, b"v1") + _field(2, b"Namespace")) + _field(2, _field(1, meta))
    body = protobodies.decode(protobodies.MAGIC + envelope, kind="Namespace")
    assert body == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo", "labels": {"team": "a"}}}


def test_kinds_the_sandbox_does_not_read_as_protobuf_are_none() -> None:
    assert protobodies.decode(protobodies.MAGIC, kind="Pod") is None


@pytest.mark.parametrize("raw", [b"not-k8s", protobodies.MAGIC + b"\x0a\xff", protobodies.MAGIC + b"\x0f"])
def test_garbage_is_400(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        protobodies.decode(raw, kind="SelfSubjectAccessReview")
    assert caught.value.code == 400
