"""How big a publish request and an error reply may be, chosen so that no legitimate pod is refused.

The CSI spec's limits (strings 128 bytes, maps 4 KiB) do not fit what kubelet really sends: the
volume context carries the pod's service-account tokens (1-2 KiB per audience) and attribute values
such as a long `dns-names` list. So the limits follow what the API server lets a pod and its
CertificateRequest be instead:
- a value: 1 MiB. A volume attribute ends up in the CertificateRequest, as an annotation (256 KiB
  for all of them together) or inside the CSR and then the certificate, both base64-encoded
  (8/3 of its size), and the API server refuses request bodies over 3 MiB: a bigger value could
  never be issued.
- a whole context (volume_context and secrets together): 3.25 MiB. Every attribute comes from the
  Pod object, itself at most 3 MiB (the API server's request limit; etcd's default is 1.5 MiB), and
  256 KiB more is room for what kubelet adds: the pod's identity and over a hundred audiences' tokens.
- a request on the socket: 8 MiB, so a context over its limit still gets the error above instead of
  gRPC's own RESOURCE_EXHAUSTED.
- an error message: 2 KiB of UTF-8. gRPC carries it in a response trailer, percent-encoded (up to
  three bytes per byte), and drops the whole reply when trailers pass 8-16 KiB.
"""

from __future__ import annotations

from collections.abc import Mapping

from certcsi.errors import InvalidVolume, quoted

__all__ = [
    "MAX_CONTEXT_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_VALUE_BYTES",
    "bounded_message",
    "check_sizes",
]

MAX_VALUE_BYTES = 1024 * 1024
MAX_CONTEXT_BYTES = 3 * 1024 * 1024 + 256 * 1024
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_BYTES = 2048
_CUT = "… (message truncated)"


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def check_sizes(*, volume_context: Mapping[str, str], secrets: Mapping[str, str]) -> None:
    """InvalidVolume naming the first map entry over MAX_VALUE_BYTES, or the total over MAX_CONTEXT_BYTES.

    A secret is named by its key only.
    """
    total = 0
    for field, entries in (("volume_context", volume_context), ("secrets", secrets)):
        for key, value in entries.items():
            size = _size(value)
            if size > MAX_VALUE_BYTES:
                raise InvalidVolume(
                    f"{field}[{quoted(key)}] is {size} bytes; a value may be at most {MAX_VALUE_BYTES} bytes "
                    "(no larger value fits the CertificateRequest it would go into)"
                )
            total += _size(key) + size
    if total > MAX_CONTEXT_BYTES:
        raise InvalidVolume(
            f"volume_context and secrets hold {total} bytes; together they may hold at most {MAX_CONTEXT_BYTES} "
            "bytes (more than any Pod the API server accepts can carry)"
        )


def bounded_message(message: str) -> str:
    """`message` cut to MAX_MESSAGE_BYTES of UTF-8 (on a character boundary), marked when cut."""
    encoded = message.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    head = encoded[: MAX_MESSAGE_BYTES - _size(_CUT)].decode("utf-8", "ignore")
    return head + _CUT
