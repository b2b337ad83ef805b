"""`status.json`: what the engine knows about a volume beyond csi-lib's metadata, for `certcsi inspect`.

It lives beside metadata.json on the tmpfs (`inmemfs/<volume-id>/status.json`, 0600) and is
certcsi's own file: metadata.json stays byte-compatible with the Go driver's, so a node can switch
back and forth, and the Go driver simply ignores this file. It never holds a secret: error messages
are scrubbed before they are written, and they come from the approver, the issuer or the API server.

    {"requestName": "...", "issuer": {"name": "...", "kind": "...", "group": "..."},
     "certificateFile": "tls.crt", "notBefore": "...Z", "notAfter": "...Z",
     "lastError": "...", "lastErrorTime": "...Z", "failures": 2}

Every key is optional. The engine rewrites the file only when its content changes (an issuance, a
failure, a new reason for waiting), atomically: temp file in the same directory, then rename.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from certcsi.redact import scrub
from certcsi.timestamps import parse_rfc3339, rfc3339_nano
from certcsi.volumes.driver import IssuerRef
from certcsi.volumes.smallfiles import read_small_file, replace_small_file

STATUS_FILE = "status.json"
MAX_ERROR_CHARS = 1024


@dataclass(frozen=True)
class VolumeStatus:
    """The engine's view of one volume's certificate and its last failure."""

    request_name: str | None = None
    issuer: IssuerRef | None = None
    certificate_file: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    last_error: str | None = None
    last_error_time: datetime | None = None
    failures: int = 0

    def to_json(self) -> str:
        """status.json's text: keys sorted, no spaces, non-ASCII as UTF-8."""
        return self.to_bytes().decode("utf-8")

    def _doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.request_name:
            doc["requestName"] = self.request_name
        if self.issuer is not None:
            doc["issuer"] = {"name": self.issuer.name, "kind": self.issuer.kind, "group": self.issuer.group}
        if self.certificate_file:
            doc["certificateFile"] = self.certificate_file
        for key, moment in (("notBefore", self.not_before), ("notAfter", self.not_after)):
            if moment is not None:
                doc[key] = rfc3339_nano(moment)
        if self.last_error:
            doc["lastError"] = scrub(self.last_error)[:MAX_ERROR_CHARS]
            if self.last_error_time is not None:
                doc["lastErrorTime"] = rfc3339_nano(self.last_error_time)
        if self.failures:
            doc["failures"] = self.failures
        return doc

    def to_bytes(self) -> bytes:
        """`to_json()` as the UTF-8 bytes of status.json."""
        return orjson.dumps(self._doc(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, text: str | bytes) -> VolumeStatus:
        """Parse status.json; ValueError naming the key when it is not what the engine writes."""
        doc = orjson.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("status: must be a JSON object")
        issuer = doc.get("issuer")
        if issuer is not None and not (
            isinstance(issuer, dict) and all(isinstance(issuer.get(k), str) for k in ("name", "kind", "group"))
        ):
            raise ValueError("status issuer: must be an object with string name, kind and group")
        failures = doc.get("failures", 0)
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
            raise ValueError("status failures: must be a non-negative integer")
        ref = None if issuer is None else IssuerRef(name=issuer["name"], kind=issuer["kind"], group=issuer["group"])
        return cls(
            request_name=_text(doc, "requestName"),
            issuer=ref,
            certificate_file=_text(doc, "certificateFile"),
            not_before=_time(doc, "notBefore"),
            not_after=_time(doc, "notAfter"),
            last_error=_text(doc, "lastError"),
            last_error_time=_time(doc, "lastErrorTime"),
            failures=failures,
        )


def _text(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"status {key}: must be a string")
    return value


def _time(doc: dict[str, Any], key: str) -> datetime | None:
    value = _text(doc, key)
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError as err:
        raise ValueError(f"status {key}: {err}") from None


def write_status(volume_dir: Path | str, status: VolumeStatus) -> None:
    """Replace `<volume_dir>/status.json` atomically; the caller holds the volume's lock.

    Not fsync'd (`durable=False`): only `inspect` reads it, and after a power loss on a disk data root
    the engine ignores (and logs) an empty one; the rename still keeps a live reader from a torn one.
    """
    replace_small_file(os.fspath(volume_dir), STATUS_FILE, status.to_bytes(), durable=False)


def read_status(volume_dir: Path) -> VolumeStatus | None:
    """The volume's status; None when it has none (never issued by certcsi, or a Go driver's volume).

    Raises ValueError when the file exists but does not parse.
    """
    raw = read_small_file(volume_dir / STATUS_FILE)
    if raw is None:
        return None
    try:
        return VolumeStatus.from_json(raw)
    except UnicodeDecodeError as err:
        raise ValueError(f"status: not UTF-8 ({err.reason})") from None
