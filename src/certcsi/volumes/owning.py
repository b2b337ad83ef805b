"""Which driver a volume directory in a shared data root belongs to.

Both upstream charts default to the same host data root, so a node running csi.cert-manager.io and
spiffe.csi.cert-manager.io keeps both drivers' volumes side by side in `<data-root>/inmemfs`. Each
driver resumes, renews, cleans up and deletes only its own; the first of these that answers decides:

1. `driver.json` in the volume directory (`{"driverName": ...}`), which certcsi writes before
   anything else of a volume it creates, and when it adopts a volume by rule 2 or 3;
2. kubelet's `vol_data.json` beside the volume's target path, when it names this volume
   (`volumeHandle`): its `driverName` is the driver kubelet publishes the volume through. This is
   how volumes the Go drivers wrote are told apart while their pods exist (the driver container
   sees `<kubelet-root>/pods` at the host path, so the target path in metadata.json leads there);
3. the driver recognises the volume context as certainly its own (`Owner.recognises`: for
   csi.cert-manager.io, its required issuer-name attribute, which SPIFFE volumes never carry).

When none answers, nobody can tell, and the volume is left alone.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import orjson

from certcsi.volumes.smallfiles import read_small_file

OWNER_FILE = "driver.json"
VOL_DATA_FILE = "vol_data.json"
# Both files are a few hundred bytes: anything bigger is not what we look for.
_MAX_RECORD_BYTES = 64 * 1024

Source = Literal["driver.json", "vol_data.json", "attributes"]


def _recognises_nothing(attributes: Mapping[str, str]) -> bool:
    return False


class Recognising(Protocol):
    """What a driver tells about ownership (certcsi.volumes.driver.Driver has both)."""

    @property
    def name(self) -> str: ...

    def recognises(self, attributes: Mapping[str, str]) -> bool: ...


@dataclass(frozen=True)
class Owner:
    """The driver a store works for: its name, and how it recognises an unrecorded volume as its own."""

    name: str
    recognises: Callable[[Mapping[str, str]], bool] = field(default=_recognises_nothing, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("driver name: must not be empty")

    @property
    def file_name(self) -> str:
        """The name as one safe file-name component (CSI names are domain names: unchanged)."""
        return urllib.parse.quote(self.name, safe="")

    @classmethod
    def of(cls, driver: Recognising) -> Owner:
        return cls(name=driver.name, recognises=driver.recognises)


@dataclass(frozen=True)
class Ownership:
    """Whose a volume is (`driver` None: nobody can tell), and which record said so."""

    driver: str | None
    source: Source | None = None


def _read_record(path: Path | str) -> object:
    """A small JSON file, or None when it is missing, too big or not JSON."""
    try:
        raw = read_small_file(path, limit=_MAX_RECORD_BYTES)
    except OSError:
        return None
    if raw is None or len(raw) > _MAX_RECORD_BYTES:
        return None
    try:
        return orjson.loads(raw)
    except ValueError:
        return None


def _driver_name(record: object) -> str | None:
    if isinstance(record, dict):
        name = record.get("driverName")
        if isinstance(name, str) and name:
            return name
    return None


def recorded_owner(volume_dir: Path | str) -> str | None:
    """The driver named by the volume's driver.json; None when there is none (or it cannot be read)."""
    return _driver_name(_read_record(os.path.join(volume_dir, OWNER_FILE)))


def owner_record(name: str) -> bytes:
    """The content of driver.json for driver `name`."""
    return json.dumps({"driverName": name}, separators=(",", ":")).encode("utf-8")


def kubelet_driver(target_path: str, volume_id: str) -> str | None:
    """The driverName of kubelet's vol_data.json beside `target_path`, if that file names this volume."""
    if not target_path or not os.path.isabs(target_path):
        return None
    record = _read_record(Path(os.path.dirname(os.path.normpath(target_path))) / VOL_DATA_FILE)
    if not isinstance(record, dict) or record.get("volumeHandle") != volume_id:
        return None
    return _driver_name(record)


def inferred_owner(*, volume_id: str, target_path: str, attributes: Mapping[str, str], owner: Owner) -> Ownership:
    """Whose a volume without driver.json is: rules 2 and 3 of the module docstring."""
    published_by = kubelet_driver(target_path, volume_id)
    if published_by is not None:
        return Ownership(published_by, "vol_data.json")
    if owner.recognises(attributes):
        return Ownership(owner.name, "attributes")
    return Ownership(None)
