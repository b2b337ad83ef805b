"""The one rule for a CSI `volume_id`, shared by publish and unpublish: it names a directory under the
data root, so it must be one path component that cannot leave it."""

from __future__ import annotations

import re

from certcsi.errors import InvalidVolume, quoted

MAX_VOLUME_ID_BYTES = 128  # the CSI spec's size limit for strings


# '/' and the control characters (C0 and DEL): any of them could leave the directory or garble a line.
_FORBIDDEN = re.compile("[/\x00-\x1f\x7f]")


def _fits(volume_id: str) -> bool:
    try:
        return len(volume_id.encode("utf-8")) <= MAX_VOLUME_ID_BYTES
    except UnicodeEncodeError:  # lone surrogates
        return False


def check_volume_id(volume_id: str) -> str:
    """`volume_id` unchanged when it is one safe path component, else InvalidVolume naming the rule."""
    # Kubelet's ids are `csi-` + 64 hex digits, but conformance suites and other callers send other
    # shapes: forbid only what could leave the directory or garble a path or a log line.
    if volume_id in ("", ".", "..") or _FORBIDDEN.search(volume_id) is not None or not _fits(volume_id):
        raise InvalidVolume(
            f"volume_id {quoted(volume_id)}: must be one path component of 1..{MAX_VOLUME_ID_BYTES} bytes "
            "without '/', NUL or control characters, and not '.' or '..'"
        )
    return volume_id
