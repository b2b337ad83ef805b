"""Keys in a driver's attribute namespace that it does not know.

Upstream ignores them, so a pod that works there must work here: each becomes a warning (a Warning
Event on the Pod) naming the nearest known key. A driver run with --strict-attributes refuses the
volume instead. Either way only the key is shown, never its value.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from certcsi.errors import KEY_ECHO_LIMIT, InvalidVolumeAttribute, quoted
from certcsi.redact import redact_secret, scrub
from certcsi.volumes.driver import VolumeWarning

__all__ = ["REASON", "unknown_attribute_error", "unknown_attribute_warning"]

REASON = "UnknownVolumeAttribute"


def _nearest(key: str, known: Collection[str]) -> str | None:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return close[0] if close else None


def unknown_attribute_warning(key: str, known: Collection[str], *, secret: str | None = None) -> VolumeWarning:
    """The warning for an ignored key: the key and the known one it most resembles.

    `secret` (a volume's password) is blanked from the key before it is cut short, so no part shows.
    """
    near = _nearest(key, known)
    hint = f"; did you mean {near!r}?" if near else " (not an attribute of this driver)"
    shown = redact_secret(key, secret)
    message = f"unknown volume attribute {quoted(shown, limit=KEY_ECHO_LIMIT)} is ignored{hint}"
    return VolumeWarning(reason=REASON, message=scrub(message))


def unknown_attribute_error(key: str, known: Collection[str]) -> InvalidVolumeAttribute:
    """The error a strict driver raises: the nearest known key, or all of them when none is near."""
    near = _nearest(key, known)
    hint = f"; did you mean {near!r}?" if near else "; known attributes: " + ", ".join(sorted(known))
    return InvalidVolumeAttribute(key, f"unknown attribute{hint}")
