"""csi-lib's data root as the Go drivers write and read it, for the take-over tests in both directions.

Written from csi-lib's code (c261de0) and csi-driver's, independently of certcsi's store:

- `<data-root>/inmemfs/<volume-id>/metadata.json`, mode 0600: Go's `json.Marshal` of
  `metadata.Metadata{VolumeID "volumeID", TargetPath "targetPath", NextIssuanceTime *time.Time
  "nextIssuanceTime,omitempty", VolumeContext map[string]string "volumeContext,omitempty",
  VolumeMountGroup string "volumeMountGroup,omitempty"}`: struct order, map keys sorted, `<>&`
  escaped as \\u003c \\u003e \\u0026, times in RFC 3339 with nanoseconds and trailing zeros dropped.
  csi-lib stores the WHOLE volume context: the service-account tokens and a PKCS#12 password too.
  With --continue-on-not-ready a volume not issued yet has Go's zero time, 0001-01-01T00:00:00Z.
- The volume directory is made with mode 0644 (storage.volumeFolderMode), `data/` with 0550; the
  files are kubelet's AtomicWriter: `..<UTC 2006_01_02_15_04_05>.<random>` (0755) holding the
  files (0440), `..data` pointing at it, and `name -> ..data/name` per file.
- At start (manager.NewManager): `ListVolumes` stats `<entry>/metadata.json` for every entry of
  inmemfs; a directory without one is deleted, any other error (a plain file there: ENOTDIR) fails
  the driver's start; `ReadMetadata` of each must decode or the start fails; volumes with a
  nextIssuanceTime are resumed, the others skipped until kubelet publishes them again.
- On renewal `issue()` reads metadata.json again; with token requests the client comes from
  `EmptyAudienceTokenFromMetadata`: `volumeContext["csi.storage.k8s.io/serviceAccount.tokens"]`,
  JSON, `[""].token` non-empty, else an error. csi-driver's `WriteKeypair` defaults and validates
  the volume context: `pkcs12-enable: "true"` needs a non-empty `pkcs12-password`.
- On every publish `RegisterMetadata` rewrites metadata.json (nextIssuanceTime kept) when the volume
  context differs from the stored one: a republish with a fresh token puts the token back there.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"
PKCS12_ENABLE = "csi.cert-manager.io/pkcs12-enable"
PKCS12_PASSWORD = "csi.cert-manager.io/pkcs12-password"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_GO_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
# time.Time.UnmarshalJSON parses RFC 3339 strictly (upper-case T and Z, two-digit fields).
_GO_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def go_time(moment: datetime) -> str:
    """Go's RFC3339Nano of a UTC time: fraction only when non-zero, trailing zeros dropped."""
    utc = moment.astimezone(UTC)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def go_metadata_json(
    *,
    volume_id: str,
    target_path: str,
    next_issuance_time: str | None,
    volume_context: Mapping[str, str],
    volume_mount_group: str = "",
) -> bytes:
    """metadata.json byte for byte as csi-lib's WriteMetadata writes it."""
    doc: dict[str, Any] = {"volumeID": volume_id, "targetPath": target_path}
    if next_issuance_time is not None:
        doc["nextIssuanceTime"] = next_issuance_time
    if volume_context:
        doc["volumeContext"] = {key: volume_context[key] for key in sorted(volume_context)}
    if volume_mount_group:
        doc["volumeMountGroup"] = volume_mount_group
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).translate(_GO_HTML).encode()


def write_go_volume(
    inmemfs: Path,
    *,
    volume_id: str,
    target_path: str,
    next_issuance_time: str | None,
    volume_context: Mapping[str, str],
    files: Mapping[str, bytes],
    volume_mount_group: str = "",
    written_at: datetime,
) -> Path:
    """One volume as the Go driver leaves it after an issuance; returns its directory."""
    volume_dir = inmemfs / volume_id
    volume_dir.mkdir(mode=0o644)
    os.chmod(volume_dir, 0o644)  # MkdirAll's mode as csi-lib passes it, whatever the umask
    meta = volume_dir / "metadata.json"
    meta.write_bytes(
        go_metadata_json(
            volume_id=volume_id,
            target_path=target_path,
            next_issuance_time=next_issuance_time,
            volume_context=volume_context,
            volume_mount_group=volume_mount_group,
        )
    )
    os.chmod(meta, 0o600)
    data = volume_dir / "data"
    data.mkdir()
    if files:
        stamp = written_at.astimezone(UTC).strftime("..%Y_%m_%d_%H_%M_%S.") + str(random.randrange(10**9))
        (data / stamp).mkdir()
        for name, content in files.items():
            (data / stamp / name).write_bytes(content)
            os.chmod(data / stamp / name, 0o440)
            os.symlink(f"..data/{name}", data / name)
        os.chmod(data / stamp, 0o755)
        os.symlink(stamp, data / "..data")
    os.chmod(data, 0o550)
    return volume_dir


def write_vol_data(target_path: str, *, volume_id: str, driver_name: str) -> None:
    """kubelet's vol_data.json beside the target, written before it calls NodePublishVolume."""
    parent = Path(target_path).parent
    parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    data = {
        "specVolID": parent.name,
        "volumeHandle": volume_id,
        "driverName": driver_name,
        "nodeName": "node-1",
        "volumeLifecycleMode": "Ephemeral",
    }
    (parent / "vol_data.json").write_text(json.dumps(data))


class GoStartFailure(Exception):
    """What would make the Go driver's NewManager return an error (the driver does not start)."""


class GoRenewalFailure(Exception):
    """What would make the Go driver's issue() fail before it creates a request."""


@dataclass(frozen=True)
class GoMetadata:
    """metadata.Metadata as Go's json.Unmarshal fills it."""

    volume_id: str = ""
    target_path: str = ""
    next_issuance_time: datetime | None = None
    volume_context: dict[str, str] = field(default_factory=dict)
    volume_mount_group: str = ""


_FIELDS = {"volumeid": "volume_id", "targetpath": "target_path", "volumemountgroup": "volume_mount_group"}


def _go_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"nextIssuanceTime {text!r}: Time.UnmarshalJSON wants a string")
    m = _GO_RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"nextIssuanceTime {text!r}: not RFC 3339 as Go parses it")
    fields = [int(g) for g in m.groups()[:6]]
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    if m.group(8) != "Z":
        raise ValueError("the fixtures and certcsi write UTC only")
    return datetime(*fields, micros, tzinfo=UTC)  # type: ignore[misc]


def go_unmarshal_metadata(raw: bytes) -> GoMetadata:
    """json.Unmarshal into metadata.Metadata: keys matched case-insensitively, unknown keys ignored,
    a value of the wrong type an error (ValueError here)."""
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("metadata: not a JSON object")
    values: dict[str, Any] = {}
    for key, value in doc.items():
        lowered = key.lower()
        if value is None:
            continue
        if lowered in _FIELDS:
            if not isinstance(value, str):
                raise ValueError(f"{key}: cannot unmarshal {type(value).__name__} into a Go string")
            values[_FIELDS[lowered]] = value
        elif lowered == "nextissuancetime":
            values["next_issuance_time"] = _go_time(value)
        elif lowered == "volumecontext":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ValueError(f"{key}: cannot unmarshal into map[string]string")
            values["volume_context"] = dict(value)
    return GoMetadata(**values)


class GoDriver:
    """The Go driver (csi-lib + csi-driver or csi-driver-spiffe) as it reads a data root it takes over."""

    def __init__(self, data_root: Path, *, token_request: bool) -> None:
        self.inmemfs = data_root / "inmemfs"
        self.token_request = token_request
        self.deleted: list[str] = []

    def start(self) -> list[str]:
        """NewManager: the volume ids it resumes (deleting directories without metadata.json, as ListVolumes does)."""
        resumed = []
        for name in sorted(os.listdir(self.inmemfs)):
            try:
                os.stat(self.inmemfs / name / "metadata.json")
            except FileNotFoundError:
                self.deleted.append(name)
                continue
            except OSError as err:
                raise GoStartFailure(f"listing existing volumes: {name}: {err.strerror}") from None
            try:
                meta = self.read_metadata(name)
            except ValueError as err:
                raise GoStartFailure(f"reading existing volume metadata: {err}") from None
            if meta.next_issuance_time is not None:
                resumed.append(name)
        return resumed

    def read_metadata(self, volume_id: str) -> GoMetadata:
        return go_unmarshal_metadata((self.inmemfs / volume_id / "metadata.json").read_bytes())

    def register(self, *, volume_id: str, target_path: str, volume_context: Mapping[str, str]) -> bool:
        """RegisterMetadata on a (re)publish: rewrite when the context changed; True when it wrote."""
        existing = self.read_metadata(volume_id)
        if existing.volume_context == dict(volume_context):
            return False
        when = existing.next_issuance_time
        raw = go_metadata_json(
            volume_id=existing.volume_id,
            target_path=existing.target_path,
            next_issuance_time=None if when is None else go_time(when),
            volume_context=volume_context,
            volume_mount_group=existing.volume_mount_group,
        )
        (self.inmemfs / volume_id / "metadata.json").write_bytes(raw)
        return True

    def renewal_inputs(self, volume_id: str) -> GoMetadata:
        """What issue() reads before creating a request; GoRenewalFailure as csi-lib/csi-driver would fail."""
        meta = self.read_metadata(volume_id)
        context = meta.volume_context
        if self.token_request:
            if TOKENS not in context:
                raise GoRenewalFailure(f"'{TOKENS}' not present in volume context")
            token = (json.loads(context[TOKENS]).get("") or {}).get("token")
            if not token:
                raise GoRenewalFailure("empty audience service account token doesn't exist in CSI volume context")
        if context.get(PKCS12_ENABLE) == "true" and not context.get(PKCS12_PASSWORD):
            raise GoRenewalFailure(f"{PKCS12_PASSWORD}: required when {PKCS12_ENABLE} is true")
        return meta

    def read_file(self, volume_id: str, name: str) -> bytes:
        """A published file as the Go driver's key reuse reads it (storage.ReadFile, through the visible link)."""
        return (self.inmemfs / volume_id / "data" / name).read_bytes()
