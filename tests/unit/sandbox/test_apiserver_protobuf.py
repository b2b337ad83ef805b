"""The protobuf the sandbox writes (the OpenAPI v2 document) and reads (kubectl's typed bodies)."""

from __future__ import annotations

import pytest
from protobuf_bodies import envelope
from protobuf_bodies import field as _field

from certcsi.sandbox.apiserver import openapiproto, protobodies
from certcsi.sandbox.apiserver.errors import ApiError


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
    raw = envelope(api_version="v1", kind="Namespace", raw=_field(1, meta))
    body = protobodies.decode(raw, kind="Namespace")
    assert body == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo", "labels": {"team": "a"}}}


def test_kinds_the_sandbox_does_not_read_as_protobuf_are_none() -> None:
    assert protobodies.decode(protobodies.MAGIC, kind="Pod") is None


@pytest.mark.parametrize("raw", [b"not-k8s", protobodies.MAGIC + b"\x0a\xff", protobodies.MAGIC + b"\x0f"])
def test_garbage_is_400(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        protobodies.decode(raw, kind="SelfSubjectAccessReview")
    assert caught.value.code == 400
