"""Kubernetes protobuf request bodies written by hand, as client-go's typed clients send them."""

from __future__ import annotations

from certcsi.sandbox.apiserver.protobodies import MAGIC


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, messages)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(*, api_version: str, kind: str, raw: bytes) -> bytes:
    """`k8s\\x00` and the runtime.Unknown holding the object's message."""
    return MAGIC + field(1, field(1, api_version.encode()) + field(2, kind.encode())) + field(2, raw)
