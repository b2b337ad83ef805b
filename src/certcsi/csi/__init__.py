"""The CSI gRPC surface: Identity and Node services on one unix socket, and nothing else.

    CsiServer          serves both services; maps domain errors to gRPC status codes (server.py)
    IdentityServicer   GetPluginInfo / GetPluginCapabilities / Probe (identity.py)
    NodeServicer       NodePublishVolume / NodeUnpublishVolume / capabilities / info (node.py)
    NodeBackend        what NodeServicer calls; the volume engine implements it (node.py)
    PublishRequest     one validated NodePublishVolume call (node.py)
    SecretScrubber     logging filter removing JWTs and private keys (certcsi.redact)

Names are loaded on first use so that `python -m certcsi.csi.gen` still runs when the generated
modules are missing or stale.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certcsi.redact import SecretScrubber

    from .identity import IdentityServicer
    from .node import NodeBackend, NodeServicer, PublishRequest
    from .server import CsiServer, parse_endpoint
    from .volume_context import redact_context

__all__ = [
    "CsiServer",
    "IdentityServicer",
    "NodeBackend",
    "NodeServicer",
    "PublishRequest",
    "SecretScrubber",
    "parse_endpoint",
    "redact_context",
]

_HOMES = {
    "CsiServer": "server",
    "parse_endpoint": "server",
    "IdentityServicer": "identity",
    "NodeBackend": "node",
    "NodeServicer": "node",
    "PublishRequest": "node",
    "SecretScrubber": "certcsi.redact",
    "redact_context": "volume_context",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = home if home.startswith("certcsi.") else f"{__name__}.{home}"
    return getattr(importlib.import_module(module), name)
