"""Which volumes serve the Workload API: the volume attribute, else the driver's default (`--workload-api`)."""

from __future__ import annotations

from collections.abc import Mapping

from certcsi.errors import InvalidVolumeAttribute, quoted

__all__ = ["DEFAULT_SOCKET_NAME", "WORKLOAD_API", "check_socket_name", "workload_api_enabled"]

WORKLOAD_API = "spiffe.csi.cert-manager.io/workload-api"
# `SPIFFE_ENDPOINT_SOCKET=unix:///<mount path>/spiffe.sock` says what it is; no file the driver writes has
# a `.sock` name, and SPIRE's agent.sock / api.sock would suggest a SPIRE agent that is not there.
DEFAULT_SOCKET_NAME = "spiffe.sock"
# A client connects through `<mount path>/<name>`, and a socket path has at most 107 bytes in all.
MAX_SOCKET_NAME_BYTES = 64
_RULE = 'must be "true" or "false"'


def workload_api_enabled(attributes: Mapping[str, str], *, default: bool) -> bool:
    """Whether the volume asked for the API (or did not say, and the driver serves it by default)."""
    value = attributes.get(WORKLOAD_API)
    if value is None:
        return default
    if value == "true":
        return True
    if value == "false":
        return False
    raise InvalidVolumeAttribute(WORKLOAD_API, f"{_RULE}, got {quoted(value)}")


def check_socket_name(name: str, *, file_names: Mapping[str, str]) -> str:
    """`name` when it is a usable socket file name; ValueError naming the rule (and the flag it clashes with)."""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"socket name {name!r}: must be one path component, not starting with '.'")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_SOCKET_NAME_BYTES:
        raise ValueError(f"socket name {name!r}: at most {MAX_SOCKET_NAME_BYTES} bytes (a socket path is short)")
    for flag, file_name in file_names.items():
        if name == file_name:
            raise ValueError(f"socket name {name!r}: the same as {flag}, the driver writes that file there")
    return name
