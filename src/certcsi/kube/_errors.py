"""Turning what the API server (or the network) said into `errors.KubernetesError`.

The message is the API server's own `Status.message` (what `kubectl` would print), cut to 300
characters. kube-apiserver never echoes a bearer token, but a proxy or a future bug might, so every
message is scrubbed of JWTs, `Bearer <x>` pairs and the exact token used for the call.
"""

from __future__ import annotations

import json

from certcsi.errors import KubernetesError
from certcsi.redact import scrub

MAX_MESSAGE = 300
def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def clean_message(text: str, *, secret: str | None = None) -> str:
    """Scrubbed first, then clipped, so a token cut in half by the clip cannot survive."""
    return _clip(scrub(text, secret=secret))


def from_response(status: int, http_reason: str, body: bytes, *, secret: str | None = None) -> KubernetesError:
    """The error for a non-2xx answer; `body` is normally a `Status` object."""
    message = ""
    reason: str | None = http_reason or None
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        message = str(decoded.get("message") or "")
        reason = str(decoded.get("reason") or "") or reason
    if not message:
        message = f"the server answered HTTP {status} {http_reason}".rstrip()
    return KubernetesError(clean_message(message, secret=secret), status=status, reason=reason)


def from_status_object(obj: object) -> KubernetesError:
    """The error for a watch `ERROR` event, whose object is a `Status`."""
    status_obj = obj if isinstance(obj, dict) else {}
    code = status_obj.get("code")
    message = str(status_obj.get("message") or "watch error without a message")
    reason = status_obj.get("reason")
    return KubernetesError(
        clean_message(message),
        status=code if isinstance(code, int) else None,
        reason=reason if isinstance(reason, str) else None,
    )


def from_connection_error(exc: BaseException, *, host: str, secret: str | None = None) -> KubernetesError:
    """The error for a call that got no HTTP answer (refused, reset, TLS, timeout)."""
    detail = str(exc) or type(exc).__name__
    message = f"cannot reach the Kubernetes API at {host}: {detail}"
    return KubernetesError(clean_message(message, secret=secret), status=None, reason=type(exc).__name__)
