"""Shared pieces of the CA bundle tests: PEM bundles, a Secret-style mounted directory, volumes in a store."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca
from certcsi.volumes.driver import Volume
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

SPIFFE_OWNER = Owner("spiffe.csi.cert-manager.io")

BUNDLE_A = certificate_pem(create_ca(common_name="bundle A")[1])
BUNDLE_B = certificate_pem(create_ca(common_name="bundle B")[1])
BUNDLE_C = certificate_pem(create_ca(common_name="bundle C")[1])
CA_FILE = "ca.crt"


def no_group(volume: Volume) -> int | None:
    return None


class SecretDir:
    """A directory laid out as kubelet mounts a Secret: `..<stamp>/` snapshots, `..data`, visible links."""

    def __init__(self, root: Path, content: bytes) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._snapshot = self._write_snapshot("..2026_a", content)
        os.symlink(self._snapshot, root / "..data")
        os.symlink(f"..data/{CA_FILE}", root / CA_FILE)

    @property
    def path(self) -> Path:
        """The file the driver is told about (`--source-ca-bundle`)."""
        return self.root / CA_FILE

    def _write_snapshot(self, name: str, content: bytes) -> str:
        (self.root / name).mkdir()
        (self.root / name / CA_FILE).write_bytes(content)
        return name

    def swap(self, name: str, content: bytes) -> None:
        """What kubelet does on a Secret update: new snapshot, rename a temp link over `..data`, drop the old."""
        new = self._write_snapshot(name, content)
        os.symlink(new, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", self.root / "..data")
        shutil.rmtree(self.root / self._snapshot)
        self._snapshot = new


def open_store(tmp_path: Path) -> Store:
    """An opened store on a plain directory (the tmpfs mount is only recorded)."""
    store = Store(data_root=tmp_path / "csi-data-dir", mounter=FakeMounter(), owner=SPIFFE_OWNER)
    store.open()
    return store


def add_volume(store: Store, volume_id: str, files: dict[str, bytes]) -> None:
    store.write_metadata(Metadata(volume_id=volume_id, target_path=f"/pods/{volume_id}/mount"))
    if files:
        store.write_files(volume_id, files, fs_group=None)


def issued_files(volume_id: str, ca: bytes) -> dict[str, bytes]:
    return {"tls.crt": f"CERT {volume_id}".encode(), "tls.key": f"KEY {volume_id}".encode(), CA_FILE: ca}


async def eventually(check: Callable[[], bool], *, timeout: float = 1.0, what: str = "condition") -> None:
    """Poll `check` in 10 ms steps; the work it waits for is driven by the kernel and the event loop."""
    try:
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110 - the state polled is on disk, there is no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None
