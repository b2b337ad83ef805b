"""The data root on tmpfs: one directory per volume with its metadata and its published file set.

Layout (csi-lib's, so a node can switch between the Go drivers and certcsi):

    <data-root>/certcsi-<driver>.lock       flock held by the one process of each driver using this data root
    <data-root>/certcsi-mount.lock          flock held while a driver checks and mounts the tmpfs at start
    <data-root>/inmemfs/                    tmpfs (size-limited), mounted by `Store.open()` unless already mounted
        <volume-id>/driver.json             the driver the volume belongs to (certcsi's; see `owning`)
        <volume-id>/metadata.json           0600, csi-lib's format, written atomically
        <volume-id>/data/                   0550, group = fs group; bind-mounted into the pod
            ..2024_05_01_10_00_00.ab12cd/   the real files of one write (0440)
            ..data -> ..2024_05_01_...      swapped atomically by rename
            tls.crt -> ..data/tls.crt       one visible symlink per file

Drivers share a data root (both upstream charts default to the same one): each store works for one
driver (`Owner`) and opens, lists, cleans and deletes only that driver's volumes; two processes of
the same driver are refused. metadata.json holds the volume context csi-lib needs to renew, the
PKCS#12 password included (it lives on the tmpfs beside the key it protects), but never the pod's
service-account token: that stays in memory.

All methods are synchronous filesystem calls on tmpfs (microseconds each). Within the process the
store does no locking: the caller serialises writes to one volume (the manager's per-volume lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from certcsi.csi.volume_context import SERVICE_ACCOUNT_TOKENS
from certcsi.csi.volume_id import check_volume_id
from certcsi.errors import InvalidVolume, StorageExhausted
from certcsi.timestamps import parse_rfc3339, require_aware, rfc3339_nano
from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE, Mounter
from certcsi.volumes.owning import OWNER_FILE, Owner, inferred_owner, owner_record, recorded_owner
from certcsi.volumes.smallfiles import (
    TEMP_SUFFIX,
    fsync_dir,
    read_small_file,
    replace_small_file,
    unique_suffix,
    write_all,
)

logger = logging.getLogger(__name__)

INMEMFS = "inmemfs"
METADATA_FILE = "metadata.json"
DATA_DIR = "data"
DATA_LINK = "..data"
_DATA_TMP_LINK = "..data_tmp"
_LINK_TMP = "..link_tmp"  # hidden, so a half-made link is never visible and is cleaned like the rest
# The service-account token travels in the volume context; it must never be written to disk.
MAX_FILE_NAME_BYTES = 255
# Held (flock) for the driver's lifetime, beside inmemfs: the kernel drops it with the process, kill -9 too.
LOCK_FILE_PATTERN = "certcsi-{driver}.lock"
# Held only while one driver checks inmemfs and mounts the tmpfs: two drivers starting at once would
# otherwise both find no mount and stack two tmpfs, each hiding the other's volumes.
MOUNT_LOCK_FILE = "certcsi-mount.lock"
MOUNT_LOCK_TIMEOUT = 30.0
# Go's zero time.Time: csi-lib's nextIssuanceTime of a volume published before its first
# certificate (--continue-on-not-ready), so that a restarted driver resumes it.
NOT_ISSUED_YET = datetime(1, 1, 1, tzinfo=UTC)
# What a crash leaves of `replace_small_file`: `.<name>.<unique>.tmp`, hidden; the next scan removes it.
_STALE_TEMP = re.compile(r"\..+\..*" + re.escape(TEMP_SUFFIX), re.DOTALL)

FILE_MODE = 0o440
METADATA_MODE = 0o600  # what `replace_small_file` creates; the rename keeps it
# Root writes through 0550 (DAC override). An unprivileged store (--unsafe-no-mount) keeps owner
# write on the data directory, or it could not replace its own files.
DATA_DIR_MODE = 0o550 if os.geteuid() == 0 else 0o750
SNAPSHOT_DIR_MODE = 0o550
_UNSET = object()  # no group applied yet (None is a group choice: leave the directory's as it is)


# --- names -----------------------------------------------------------------------------------------


def _safe_component(name: str, max_bytes: int) -> bool:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        return False
    try:
        return len(name.encode("utf-8")) <= max_bytes
    except UnicodeEncodeError:  # lone surrogates
        return False


def check_file_name(name: str) -> str:
    """A published file name: one path component, not starting with '..' (reserved for the swap)."""
    if not _safe_component(name, MAX_FILE_NAME_BYTES) or name.startswith(".."):
        raise ValueError(
            f"file name {name!r}: must be one path component of 1..{MAX_FILE_NAME_BYTES} bytes "
            "without '/' or NUL, not starting with '..'"
        )
    return name


class DataRootUnusable(RuntimeError):
    """The data root cannot be used as it is; the message says what to change. The driver must not start."""


class DataRootInUse(DataRootUnusable):
    """Another process of the same driver holds the data root: the two would remove each other's volumes."""


# --- metadata --------------------------------------------------------------------------------------

# Go's encoding/json escapes these even inside strings (HTML safety, JS line separators); orjson does not.
_GO_ESCAPES = tuple(
    (char.encode("utf-8"), f"\\u{ord(char):04x}".encode("ascii")) for char in ("<", ">", "&", "\u2028", "\u2029")
)


@dataclass(frozen=True)
class Metadata:
    """What csi-lib keeps per volume in metadata.json; byte-compatible with the Go driver's file.

    `volume_context` may hold a driver's secret attribute (the PKCS#12 password, which csi-lib reads
    from here on renewal), so it never shows in a repr; `Store` refuses a context that still carries
    the service-account tokens.
    """

    volume_id: str
    target_path: str
    next_issuance_time: datetime | None = None
    volume_context: Mapping[str, str] = field(default_factory=dict, repr=False)
    volume_mount_group: str = ""

    def __post_init__(self) -> None:
        if self.next_issuance_time is not None:
            aware = require_aware(self.next_issuance_time, name="next_issuance_time")
            object.__setattr__(self, "next_issuance_time", aware)
        # Read-only view of a private copy: a frozen value must not change under its holder.
        object.__setattr__(self, "volume_context", MappingProxyType(dict(self.volume_context)))

    def to_json(self) -> str:
        """Go encoding/json's output for csi-lib's struct: key order, omitempty, sorted map, escapes."""
        return self.to_bytes().decode("utf-8")

    def to_bytes(self) -> bytes:
        """`to_json()` as the UTF-8 bytes of metadata.json."""
        doc: dict[str, Any] = {"volumeID": self.volume_id, "targetPath": self.target_path}
        if self.next_issuance_time is not None:
            doc["nextIssuanceTime"] = rfc3339_nano(self.next_issuance_time)
        if self.volume_context:
            doc["volumeContext"] = dict(sorted(self.volume_context.items()))
        if self.volume_mount_group:
            doc["volumeMountGroup"] = self.volume_mount_group
        # orjson writes what Go's encoder does (UTF-8 as is; \b \f \n \r \t and \u00XX for controls)
        # but for Go's extra escapes, which are rare: a membership test each, a replace only when present.
        raw = orjson.dumps(doc)
        for char, escaped in _GO_ESCAPES:
            if char in raw:
                raw = raw.replace(char, escaped)
        return raw

    @classmethod
    def from_json(cls, text: str | bytes) -> Metadata:
        """Parse metadata.json; ValueError (naming the key) when it is not what csi-lib writes."""
        doc = orjson.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("metadata: must be a JSON object")
        volume_id, target_path = doc.get("volumeID"), doc.get("targetPath", "")
        if not isinstance(volume_id, str) or not volume_id:
            raise ValueError("metadata volumeID: must be a non-empty string")
        if not isinstance(target_path, str):
            raise ValueError("metadata targetPath: must be a string")
        raw_time = doc.get("nextIssuanceTime")
        if raw_time is not None and not isinstance(raw_time, str):
            raise ValueError("metadata nextIssuanceTime: must be an RFC 3339 string")
        context = doc.get("volumeContext") or {}
        if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
            raise ValueError("metadata volumeContext: must be an object of strings")
        group = doc.get("volumeMountGroup", "")
        if not isinstance(group, str):
            raise ValueError("metadata volumeMountGroup: must be a string")
        return cls(
            volume_id=volume_id,
            target_path=target_path,
            next_issuance_time=None if raw_time is None else parse_rfc3339(raw_time),
            volume_context=context,
            volume_mount_group=group,
        )


# --- scan results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovedVolume:
    """A volume directory `Store.open()` deleted, and why (`metadata` when it could be read)."""

    volume_id: str
    reason: str
    metadata: Metadata | None = None


@dataclass(frozen=True)
class LeftAlone:
    """An entry of the data root `Store.open()` neither resumed nor touched: not this driver's.

    `driver` names its driver when a record says so; None when nobody can tell whose it is.
    """

    name: str
    reason: str
    driver: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """The data root as found at start: volumes to resume, what was cleaned away, and what is not ours."""

    volumes: tuple[Metadata, ...]
    removed: tuple[RemovedVolume, ...]
    left_alone: tuple[LeftAlone, ...] = ()


# --- small filesystem helpers ----------------------------------------------------------------------


def _current_umask() -> int:
    """The process umask, read without changing it (os.umask can only swap); all bits when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777


# Read once: a mode the umask leaves whole needs no chmod after mkdir or open (the driver never changes it).
_UMASK = _current_umask()
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_new_file(path: str, content: bytes, *, mode: int, group: int | None) -> None:
    """Create `path` (must not exist) with `mode`, write, set the group, fsync."""
    fd = os.open(path, _NEW_FILE, mode)
    try:
        write_all(fd, content)
        if group is not None:
            os.fchown(fd, -1, group)
        if mode & _UMASK:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_dir(path: str, *, mode: int) -> bool:
    """Create the directory with `mode`; False (and nothing done) when something is already there."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return False
    if mode & _UMASK:
        os.chmod(path, mode)
    return True


def _ensure_dir(path: str, *, mode: int, group: int | None = None) -> None:
    """A directory at `path` with `mode` (and `group`): created, or one already there repaired; a symlink
    or a file in its place raises ENOTDIR."""
    if _new_dir(path, mode=mode) and group is None:
        return
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(errno.ENOTDIR, "expected a directory", path)
    if group is not None and st.st_gid != group:
        os.chown(path, -1, group, follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def _empty_dir(fd: int) -> None:
    """Remove everything in the open directory `fd`, never following a symlink (O_NOFOLLOW on each descent)."""
    with os.scandir(fd) as listing:
        entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
    for name, is_dir in entries:
        if not is_dir:
            os.unlink(name, dir_fd=fd)
            continue
        sub = os.open(name, _OPEN_DIR, dir_fd=fd)
        try:
            _empty_dir(sub)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=fd)


def _remove_tree(path: str) -> None:
    try:
        fd = os.open(path, _OPEN_DIR)
    except FileNotFoundError:
        return
    try:
        _empty_dir(fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _rmtree(path: str | Path) -> None:
    """Remove a tree, idempotently; unprivileged, first restore the write bits our 0550 dirs lack.

    Not shutil.rmtree: its symlink-race checks stat every directory twice; opening each with
    O_NOFOLLOW relative to its parent's descriptor gives the same safety in half the system calls.
    """
    path = os.fspath(path)
    try:
        _remove_tree(path)
    except PermissionError:
        for root, dirs, _ in os.walk(path):
            os.chmod(root, 0o700)
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700)
        _remove_tree(path)


def _replace_symlink(directory: str, name: str, target: str, *, tmp_name: str) -> None:
    """Point `<directory>/<name>` at `target` atomically: create the link as `tmp_name` beside it, rename over it."""
    tmp = f"{directory}/{tmp_name}"
    try:
        os.symlink(target, tmp)
    except FileExistsError:  # left by a crash between these two calls: rare, so not unlinked up front
        os.unlink(tmp)
        os.symlink(target, tmp)
    os.rename(tmp, f"{directory}/{name}")


class _SnapshotNames:
    """`..<UTC time>.<unique>` names for the hidden snapshot directories, as kubelet's AtomicWriter names them;
    the time string is made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""

    def next(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second, self._stamp = now, time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(now))
        return f"..{self._stamp}.{unique_suffix()}"


# --- the store -------------------------------------------------------------------------------------


class Store:
    """One driver's volumes under `<data_root>/inmemfs`; see the module docstring for the layout."""

    def __init__(
        self, *, data_root: Path, mounter: Mounter, owner: Owner, tmpfs_size: str | None = DEFAULT_TMPFS_SIZE
    ) -> None:
        self._data_root = Path(data_root)
        self._root = self._data_root / INMEMFS
        self._root_text = str(self._root)
        self._mounter = mounter
        self._owner = owner
        self._tmpfs_size = tmpfs_size
        self._opened = False
        self._lock_fd: int | None = None
        # This driver's volumes: found by the scan, created or adopted since, minus those removed.
        self._owned: set[str] = set()
        # Data directories this process made or checked, with the group it gave them: later writes trust them.
        self._data_dirs: dict[str, int | None] = {}
        self._owner_record = owner_record(owner.name)
        self._snapshot_names = _SnapshotNames()

    @property
    def root(self) -> Path:
        """`<data_root>/inmemfs`, the directory holding one subdirectory per volume (of every driver)."""
        return self._root

    @property
    def owner(self) -> Owner:
        return self._owner

    # -- lifecycle --

    def open(self) -> ScanResult:
        """Lock the data root for this driver, mount the tmpfs if needed, then scan this driver's volumes.

        DataRootUnusable (DataRootInUse) when another process of this driver holds the data root, or
        `inmemfs` is a symlink, not a directory, or a mount of something other than a tmpfs. A tmpfs
        mounted before gets the size limit (kept as it is when it already holds more). The check and
        the mount run under a lock shared by every certcsi driver of the data root.

        Each entry's owner is decided first (`certcsi.volumes.owning`); what is not this driver's is
        left alone (`left_alone`). Of this driver's volumes, deleted (and reported in `removed`):
        names that are not valid volume ids, directories without metadata.json, metadata that does
        not parse or names another volume, and volumes never issued (no next issuance time or Go's
        zero time, no published files, and not mounted at their target path; upstream leaves those
        forever, or resumes them). Call it once, before serving, while no publish runs.
        """
        os.makedirs(self._data_root, mode=0o700, exist_ok=True)
        self._lock()
        try:
            with _flocked(self._data_root / MOUNT_LOCK_FILE, timeout=MOUNT_LOCK_TIMEOUT):
                self._mount_root()
        except BaseException:
            self.close()
            raise
        kept: list[Metadata] = []
        removed: list[RemovedVolume] = []
        left: list[LeftAlone] = []
        with os.scandir(self._root) as listing:
            # The type from the directory entry itself: no stat per volume.
            entries = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing)
        for entry, is_dir in entries:
            verdict = self._scan_one(entry) if is_dir else LeftAlone(entry, "not a volume directory")
            if isinstance(verdict, Metadata):
                kept.append(verdict)
            elif isinstance(verdict, LeftAlone):
                left.append(verdict)
            else:
                logger.warning(
                    "removing volume directory at start: volume_id=%s reason=%s", verdict.volume_id, verdict.reason
                )
                _rmtree_entry(self._root / entry)
                removed.append(verdict)
        _log_left_alone(left, owner=self._owner.name)
        self._owned = {meta.volume_id for meta in kept}
        self._data_dirs.clear()  # another process may have changed them while this store was closed
        self._opened = True
        return ScanResult(volumes=tuple(kept), removed=tuple(removed), left_alone=tuple(left))

    def _mount_root(self) -> None:
        """Mount the tmpfs on inmemfs unless one is there (the caller holds the mount lock)."""
        self._check_root()
        fs_type = self._mounter.fs_type(self._root)
        if fs_type is None:
            self._mounter.mount_tmpfs(self._root, size=self._tmpfs_size, mode=0o700)
        elif fs_type != "tmpfs":
            raise DataRootUnusable(
                f"{self._root} is a {fs_type} mount, not a tmpfs: private keys must stay in memory; unmount it"
            )
        elif self._tmpfs_size is not None:
            self._resize_tmpfs(self._tmpfs_size)

    def _resize_tmpfs(self, size: str) -> None:
        """Apply the size limit to a tmpfs mounted before (by an earlier run, another driver, or a Go driver)."""
        try:
            self._mounter.resize_tmpfs(self._root, size=size)
        except OSError as err:
            # Holding more than the new limit already: the volumes are worth more than the limit.
            logger.warning(
                "keeping the tmpfs size it has: path=%s size=%s error=%s", self._root, size, err.strerror or err
            )

    def _lock(self) -> None:
        """Take the data root for this driver's process (idempotent); DataRootInUse while another process of
        the same driver holds it. Other drivers may share the data root.

        An flock on `<data-root>/certcsi-<driver>.lock`, kept until `close()` or the process ends however it ends.
        """
        if self._lock_fd is not None:
            return
        os.makedirs(self._data_root, mode=0o700, exist_ok=True)
        path = self._data_root / LOCK_FILE_PATTERN.format(driver=self._owner.file_name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise DataRootInUse(
                f"data root {self._data_root} is in use by another {self._owner.name} driver{by}: two processes "
                "of one driver would remove each other's volumes; give each its own --data-root (drivers with "
                "different names may share one)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Only for the message a second driver prints; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._lock_fd = fd

    def close(self) -> None:
        """Give the data root up (idempotent); the tmpfs and the volumes stay for the next driver."""
        fd, self._lock_fd = self._lock_fd, None
        self._opened = False
        if fd is not None:
            os.close(fd)

    def _check_root(self) -> None:
        """Refuse an inmemfs the tmpfs must not be mounted on: a symlink would put it (and the keys) elsewhere."""
        try:
            st = os.lstat(self._root)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise DataRootUnusable(
                f"{self._root} is a symbolic link (to {os.readlink(self._root)!r}): certcsi mounts its tmpfs "
                "only on a real directory of the data root; remove the link"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise DataRootUnusable(f"{self._root} is not a directory: remove it so that the tmpfs can be mounted there")

    def _scan_one(self, name: str) -> Metadata | RemovedVolume | LeftAlone:
        """The verdict on one directory of the data root: one listing of it, and each small file read once."""
        path = os.path.join(self._root_text, name)  # str, not Path: 10,000 joins of a restart cost 80 ms
        try:
            files = os.listdir(path)
        except OSError as err:  # gone meanwhile, or replaced by something else
            return LeftAlone(name, f"not a volume directory ({err.strerror or err})")
        recorded = recorded_owner(path) if OWNER_FILE in files else None
        if recorded is not None and recorded != self._owner.name:
            return LeftAlone(name, f"a volume of {recorded}", recorded)
        try:
            check_volume_id(name)
        except InvalidVolume:
            if recorded is None:
                return LeftAlone(name, "not a valid volume id, and no driver record")
            return RemovedVolume(name, "not a valid volume id")
        meta, problem = _read_metadata_file(path) if METADATA_FILE in files else (None, "no metadata.json")
        if recorded is None:
            if meta is None:
                return LeftAlone(name, f"no driver record and {problem}")
            owner = inferred_owner(
                volume_id=name, target_path=meta.target_path, attributes=meta.volume_context, owner=self._owner
            )
            if owner.driver != self._owner.name:
                why = f"a volume of {owner.driver} ({owner.source})" if owner.driver else "owner unknown"
                return LeftAlone(name, why, owner.driver)
            # Ours by kubelet's record or by its attributes: record it, so later scans need neither.
            try:
                replace_small_file(path, OWNER_FILE, self._owner_record, durable=True)
            except OSError as err:  # a full tmpfs: ours all the same, and decided the same way next time
                logger.warning("could not record a volume's driver: volume_id=%s error=%s", name, err.strerror or err)
        self._remove_stale_temp_files(path, files)
        if meta is None:
            return RemovedVolume(name, problem)
        if meta.volume_id != name:
            return RemovedVolume(name, "metadata.json names another volume", meta)
        never_issued = meta.next_issuance_time in (None, NOT_ISSUED_YET)
        if never_issued and not self._has_files(name) and not self._is_published(meta):
            return RemovedVolume(name, "never issued", meta)
        return meta

    def _is_published(self, meta: Metadata) -> bool:
        """Whether the pod already has the volume: with --continue-on-not-ready a volume is mounted
        before its first certificate, so "never issued" is then no reason to remove it. Any bind counts,
        a writable one upstream's driver left too."""
        return bool(meta.target_path) and self._mounter.shows(meta.target_path, self.data_dir(meta.volume_id))

    @staticmethod
    def _remove_stale_temp_files(volume_dir: str, names: list[str]) -> None:
        """What a crash left of `replace_small_file` (metadata.json, status.json, driver.json, a driver's
        `write_atomically`)."""
        for name in names:
            if _STALE_TEMP.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(volume_dir, name))

    def ready(self) -> str | None:
        """None when the store can serve, else why not (for Probe and readiness)."""
        if not self._opened:
            return "volume store not opened yet"
        if not self._mounter.is_mount_point(self._root):
            return f"tmpfs is not mounted at {self._root}"
        return None

    # -- paths --

    def volume_dir(self, volume_id: str) -> Path:
        return self._root / check_volume_id(volume_id)

    def _volume_path(self, volume_id: str) -> str:
        """`volume_dir` as a str: the write path joins it a dozen times per publish."""
        return f"{self._root_text}/{check_volume_id(volume_id)}"

    def data_dir(self, volume_id: str) -> Path:
        """The directory bind-mounted into the pod."""
        return self.volume_dir(volume_id) / DATA_DIR

    def list_volume_ids(self) -> list[str]:
        """This driver's volumes, sorted: those the scan kept, and those written or adopted since."""
        return sorted(self._owned)

    # -- metadata --

    def write_metadata(self, meta: Metadata) -> None:
        """Claim the volume for this driver if needed, create its directories and replace metadata.json atomically.

        Temp file in the same directory, fsync, rename, fsync the directory: a crash leaves the old
        or the new file, never a torn one. Raises ValueError if the context still holds the tokens.
        """
        if SERVICE_ACCOUNT_TOKENS in meta.volume_context:
            raise ValueError(f"metadata volumeContext: {SERVICE_ACCOUNT_TOKENS} is a secret and must be removed")
        volume_id = meta.volume_id
        volume_dir = self._volume_path(volume_id)
        with self._space_for(volume_id):
            if volume_id not in self._owned:
                self._claim(volume_id, volume_dir)
            if volume_id not in self._data_dirs:
                _ensure_dir(f"{volume_dir}/{DATA_DIR}", mode=DATA_DIR_MODE)
                self._data_dirs[volume_id] = None
            replace_small_file(volume_dir, METADATA_FILE, meta.to_bytes(), durable=True)

    def _claim(self, volume_id: str, volume_dir: str) -> None:
        """Make the volume's directory this driver's: driver.json goes in before anything else of it.

        So another certcsi driver's scan never finds metadata.json of ours without the record. A
        volume kubelet publishes through this driver is its own, whatever an older record said.
        """
        if _new_dir(volume_dir, mode=0o700):
            # Made just now, so empty: no record to read; its data directory is new too.
            replace_small_file(volume_dir, OWNER_FILE, self._owner_record, durable=True)
            _ensure_dir(f"{volume_dir}/{DATA_DIR}", mode=DATA_DIR_MODE)
            self._data_dirs[volume_id] = None
        else:
            _ensure_dir(volume_dir, mode=0o700)
            if recorded_owner(volume_dir) != self._owner.name:
                replace_small_file(volume_dir, OWNER_FILE, self._owner_record, durable=True)
        self._owned.add(volume_id)

    def read_metadata(self, volume_id: str) -> Metadata | None:
        """The volume's metadata; None when it has none. ValueError if the file does not parse."""
        try:
            raw = (self.volume_dir(volume_id) / METADATA_FILE).read_bytes()
        except FileNotFoundError:
            return None
        return Metadata.from_json(raw)

    # -- files --

    def write_files(self, volume_id: str, files: Mapping[str, bytes], *, fs_group: int | None) -> None:
        """Publish `files` as the volume's complete file set, atomically (kubelet's AtomicWriter).

        1. the files go into a fresh hidden directory `..<UTC time>.<unique>` (files 0440, directory
           0550; group `fs_group` when given, else root's: then only root can read them, as upstream);
        2. a `..data_tmp` symlink to it is renamed over `..data` (the atomic switch);
        3. visible symlinks `name -> ..data/name` are added for new names, dropped for vanished ones;
        4. older hidden directories are removed, except the one just replaced: it stays until the next
           write, so a reader that resolved `..data` a moment before the switch still finds its files.
        A reader that opens `..data` once and reads every file relative to it sees one write only;
        two separate opens through the visible names may straddle a switch (as with kubelet).
        """
        for name in files:
            check_file_name(name)
        with self._space_for(volume_id):
            self._write_files(volume_id, files, fs_group=fs_group)

    @contextlib.contextmanager
    def _space_for(self, volume_id: str) -> Iterator[None]:
        """A full tmpfs (ENOSPC, EDQUOT) becomes StorageExhausted naming the volume and the limit."""
        try:
            yield
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            size = f"its size is {self._tmpfs_size}, " if self._tmpfs_size else ""
            raise StorageExhausted(
                f"volume {volume_id}: no space left on the volume tmpfs {self._root} ({size}set by --tmpfs-size)"
            ) from err

    def _write_files(self, volume_id: str, files: Mapping[str, bytes], *, fs_group: int | None) -> None:
        volume_dir = self._volume_path(volume_id)
        data_dir = f"{volume_dir}/{DATA_DIR}"
        if self._data_dirs.get(volume_id, _UNSET) != fs_group:
            if not os.path.isdir(volume_dir):
                raise FileNotFoundError(errno.ENOENT, "volume not registered (write_metadata first)", data_dir)
            _ensure_dir(data_dir, mode=DATA_DIR_MODE, group=fs_group)
            self._data_dirs[volume_id] = fs_group
        try:
            previous = os.readlink(f"{data_dir}/{DATA_LINK}")
        except FileNotFoundError:
            previous = None
        while True:
            name = self._snapshot_names.next()
            if _new_dir(snapshot := f"{data_dir}/{name}", mode=0o700):
                break
        try:
            for file_name, content in files.items():
                _write_new_file(f"{snapshot}/{file_name}", content, mode=FILE_MODE, group=fs_group)
            if fs_group is not None:
                os.chown(snapshot, -1, fs_group)
            os.chmod(snapshot, SNAPSHOT_DIR_MODE)
            fsync_dir(snapshot)
            _replace_symlink(data_dir, DATA_LINK, name, tmp_name=_DATA_TMP_LINK)
        except BaseException:
            _rmtree(snapshot)
            raise
        with os.scandir(data_dir) as listing:
            entries = [(entry.name, entry.is_symlink()) for entry in listing]
        self._sync_visible_links(data_dir, set(files), entries)
        for entry_name, _ in entries:
            # The previous snapshot stays until the next write: a reader that resolved `..data` just
            # before this swap can still read both files of its pair (kubelet drops it at once).
            if entry_name.startswith("..") and entry_name not in (DATA_LINK, name, previous):
                _rmtree_entry(f"{data_dir}/{entry_name}")
        # The swap and the links outlive a crash on a disk data root; on tmpfs this costs one no-op call.
        fsync_dir(data_dir)

    @staticmethod
    def _sync_visible_links(data_dir: str, names: set[str], entries: list[tuple[str, bool]]) -> None:
        """Make the visible links exactly `names`; `entries` is the data directory's listing (name, is symlink)."""
        present = set()
        for name, is_symlink in entries:
            if name.startswith(".."):
                continue
            if name in names:
                present.add(name)
            elif is_symlink and os.readlink(f"{data_dir}/{name}").startswith(DATA_LINK + "/"):
                os.unlink(f"{data_dir}/{name}")
        for name in names:
            link, target = f"{data_dir}/{name}", f"{DATA_LINK}/{name}"
            if name not in present:
                with contextlib.suppress(FileExistsError):  # appeared since the listing: checked below
                    os.symlink(target, link)
                    continue
            try:
                if os.readlink(link) == target:
                    continue
            except OSError:
                pass  # exists but not a symlink: replace it below
            _replace_symlink(data_dir, name, target, tmp_name=_LINK_TMP)

    def read_file(self, volume_id: str, name: str) -> bytes | None:
        """The published content of one file, or None when the volume has no such file."""
        try:
            return (self.data_dir(volume_id) / check_file_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    def list_files(self, volume_id: str) -> list[str]:
        """Names of the published files (the visible links into `..data`), sorted.

        Anything else in the data directory is not a published file: a driver may place its own
        entries there (the SPIFFE driver's Workload API socket), and they are neither listed nor touched.
        """
        try:
            entries = list(os.scandir(self.data_dir(volume_id)))
        except FileNotFoundError:
            return []
        return sorted(e.name for e in entries if not e.name.startswith("..") and _is_published_link(e.path))

    def _has_files(self, volume_id: str) -> bool:
        return os.path.lexists(self.data_dir(volume_id) / DATA_LINK) or bool(self.list_files(volume_id))

    def remove_volume(self, volume_id: str) -> None:
        """Delete the volume's directory and everything in it; idempotent.

        Only for a volume of this driver (kubelet unpublishes it through this driver, or its first
        publish failed). Unmount the pod's bind mount first: the data directory's files would vanish under it.
        """
        _rmtree(self._volume_path(volume_id))
        self._owned.discard(volume_id)
        self._data_dirs.pop(volume_id, None)


def _read_metadata_file(volume_dir: str) -> tuple[Metadata | None, str]:
    """The volume's metadata, or None and what is wrong with it."""
    try:
        raw = read_small_file(os.path.join(volume_dir, METADATA_FILE))
    except OSError as err:
        return None, f"unreadable metadata.json: {err.strerror or err}"
    if raw is None:
        return None, "no metadata.json"
    try:
        return Metadata.from_json(raw), ""
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"unreadable metadata.json: {e}"


def _log_left_alone(entries: list[LeftAlone], *, owner: str) -> None:
    """Other drivers' volumes in one line (a node may hold thousands); entries nobody can place, each."""
    others: dict[str, int] = {}
    for entry in entries:
        if entry.driver is not None:
            others[entry.driver] = others.get(entry.driver, 0) + 1
        else:
            logger.warning("leaving an entry of the data root alone: name=%s reason=%s", entry.name, entry.reason)
    if others:
        counts = ",".join(f"{name}:{count}" for name, count in sorted(others.items()))
        logger.info("volumes of other drivers share the data root; left alone: driver=%s volumes=%s", owner, counts)


@contextlib.contextmanager
def _flocked(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if needed) for the block; DataRootUnusable after `timeout` s."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataRootUnusable(
                        f"{path} stayed locked for {timeout:g} s: another driver is stuck mounting the tmpfs"
                    ) from None
                # Held for a mount(2) call by another driver starting now: milliseconds.
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)


def write_atomically(directory: Path, name: str, content: bytes) -> None:
    """A driver's own file beside a volume's metadata, written as metadata.json is (0600, never torn)."""
    replace_small_file(os.fspath(directory), name, content, durable=True)


def _is_published_link(path: str) -> bool:
    try:
        return os.readlink(path).startswith(DATA_LINK + "/")
    except OSError:  # not a symlink, or gone
        return False


def _rmtree_entry(path: str | Path) -> None:
    try:
        os.unlink(path)
    except IsADirectoryError:
        _rmtree(path)
    except FileNotFoundError:
        pass
