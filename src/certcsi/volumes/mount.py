"""Mounting, behind one small protocol: the tmpfs under the data root, and read-only bind mounts into pods.

Three implementations of `Mounter`:

- `SyscallMounter`: the real thing. mount(2)/umount2(2) through ctypes (no process per mount: a
  publish is on the hot path) and /proc/self/mountinfo for questions about what is mounted.
- `FakeMounter`: an in-memory record for unit tests; creates the directories the real one would, so
  code that checks paths behaves the same, and can be told to fail the next call of an operation.
- `DirectoryMounter`: the UNSAFE no-root mode (`--unsafe-no-mount`): no tmpfs (keys land on whatever
  disk holds the data root), and a "bind mount" is a symlink from the target to the data directory,
  neither read-only nor isolated. For local experiments only.

Every failure is an `OSError` carrying an errno and the path concerned.
All methods are synchronous and quick (a few syscalls); none of them blocks on the network.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import stat
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

StrPath = str | os.PathLike[str]


class Mounter(Protocol):
    """What the store and the manager need from the mount table."""

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        """Mount a fresh tmpfs at `path` (created if missing), nosuid,nodev,noexec.

        Not idempotent: the caller asks `is_mount_point` first. `size` is a tmpfs size such as
        `64m` or `10%`; None leaves the kernel default (half of RAM).
        """
        ...

    def is_mount_point(self, path: StrPath) -> bool:
        """True when something is mounted exactly at `path` (False when `path` does not exist)."""
        ...

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        """True when the topmost mount at `target` shows the directory `source`."""
        ...

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        """Make the directory `source` visible read-only (nosuid,nodev,noexec) at `target`.

        Creates `target` when missing (its parent must exist). Idempotent: when `target` already
        shows `source` it does nothing; when something else is mounted there it raises EBUSY.
        On failure nothing stays mounted.
        """
        ...

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        """Unmount everything stacked at `path`; idempotent (nothing mounted, or no path: OK).

        Falls back to a lazy (MNT_DETACH) unmount when the mount is busy, so a pod holding a file
        open cannot block unpublish. With `remove=True`, also removes the mount point that
        `bind_readonly` created (an empty directory, or the symlink of `DirectoryMounter`).
        """
        ...


# --- /proc/self/mountinfo --------------------------------------------------------------------------


@dataclass(frozen=True)
class MountInfo:
    """One line of /proc/self/mountinfo (the fields certcsi uses)."""

    mount_id: int
    device: str  # "major:minor"
    root: str  # the directory of the filesystem that is mounted here ("/" for a whole fs)
    mount_point: str
    options: frozenset[str]  # per-mount options: ro/rw, nosuid, nodev, noexec, ...
    fs_type: str
    source: str


def _unescape(field: str) -> str:
    r"""Decode mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash)."""
    if "\\" not in field:
        return field
    out = bytearray()
    raw = os.fsencode(field)
    i = 0
    while i < len(raw):
        chunk = raw[i + 1 : i + 4]
        if raw[i] == 0x5C and len(chunk) == 3 and all(0x30 <= c <= 0x37 for c in chunk):
            out.append(int(chunk, 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse the text of a mountinfo file (proc(5)); malformed lines are skipped, not fatal."""
    entries: list[MountInfo] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            entries.append(
                MountInfo(
                    mount_id=int(fields[0]),
                    device=fields[2],
                    root=_unescape(fields[3]),
                    mount_point=_unescape(fields[4]),
                    options=frozenset(fields[5].split(",")),
                    fs_type=fields[sep + 1],
                    source=_unescape(fields[sep + 2]),
                )
            )
        except (ValueError, IndexError):
            continue
    return entries


def read_mountinfo(path: str = "/proc/self/mountinfo") -> list[MountInfo]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


def topmost_mount(entries: list[MountInfo], mount_point: str) -> MountInfo | None:
    """The mount visible at `mount_point` (the last one stacked there), if any."""
    found = None
    for entry in entries:
        if entry.mount_point == mount_point:
            found = entry
    return found


def _real(path: StrPath) -> str:
    return os.path.realpath(os.fspath(path))


# --- the real one ------------------------------------------------------------------------------------

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

_HARDENED = MS_NOSUID | MS_NODEV | MS_NOEXEC
# Stacked mounts are unusual (a crash between two binds); more than this means something is wrong.
_MAX_STACKED = 16


def _valid_tmpfs_size(size: str) -> bool:
    # Refuse anything that could smuggle more mount options in (a comma, an equals sign).
    body = size[:-1] if size[-1:].lower() in ("k", "m", "g", "%") else size
    return body.isdigit() and body.isascii()


class SyscallMounter:
    """mount(2)/umount2(2) via ctypes on libc; answers from /proc/self/mountinfo."""

    def __init__(self, *, mountinfo_path: str = "/proc/self/mountinfo") -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._mount = libc.mount
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        self._mount.restype = ctypes.c_int
        self._umount2 = libc.umount2
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._umount2.restype = ctypes.c_int
        self._mountinfo_path = mountinfo_path

    def _sys_mount(self, source: str, target: str, fs_type: str | None, flags: int, data: str | None) -> None:
        rc = self._mount(
            os.fsencode(source),
            os.fsencode(target),
            None if fs_type is None else fs_type.encode(),
            flags,
            None if data is None else data.encode(),
        )
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount: {os.strerror(err)}", target)

    def _sys_umount(self, target: str, flags: int) -> int:
        """0 on success, else the errno."""
        if self._umount2(os.fsencode(target), flags | UMOUNT_NOFOLLOW) == 0:
            return 0
        return ctypes.get_errno()

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        if size is not None and not _valid_tmpfs_size(size):
            raise ValueError(f"tmpfs size {size!r}: must be digits with an optional k, m, g or % suffix")
        target = os.fspath(path)
        os.makedirs(target, mode=0o700, exist_ok=True)
        options = f"mode={mode:o}" + ("" if size is None else f",size={size}")
        self._sys_mount("tmpfs", target, "tmpfs", _HARDENED, options)

    def is_mount_point(self, path: StrPath) -> bool:
        p = os.fspath(path)
        try:
            st = os.lstat(p)
            parent = os.stat(os.path.join(p, ".."))
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return False
        # A different device than the parent settles it without reading the mount table; a bind
        # mount from the same filesystem does not change st_dev, so that case needs mountinfo.
        if st.st_dev != parent.st_dev or st.st_ino == parent.st_ino:
            return True
        return topmost_mount(read_mountinfo(self._mountinfo_path), _real(p)) is not None

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        # A directory has no hard links, so a different path showing the same (device, inode) as
        # `source` can only be a mount of it: no need to read the mount table on every republish.
        t, s = os.fspath(target), os.fspath(source)
        try:
            if os.path.islink(t):
                return False
            st_t, st_s = os.stat(t), os.stat(s)
        except FileNotFoundError:
            return False
        same = (st_t.st_dev, st_t.st_ino) == (st_s.st_dev, st_s.st_ino)
        return same and _real(t) != _real(s)

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = os.fspath(source), os.fspath(target)
        if not os.path.isdir(src):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src)
        created = False
        try:
            os.mkdir(dst, 0o750)
            created = True
        except FileExistsError:
            if self.is_mount_point(dst):
                if self.is_bind_of(dst, src):
                    return
                raise OSError(errno.EBUSY, "something else is mounted at the target", dst) from None
        try:
            self._sys_mount(src, dst, None, MS_BIND, None)
            try:
                # A bind mount ignores MS_RDONLY on creation; only a remount of the bind applies it.
                self._sys_mount("none", dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _HARDENED, None)
            except OSError:
                self._sys_umount(dst, MNT_DETACH)
                raise
        except OSError:
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(dst)
            raise

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        target = os.fspath(path)
        for _ in range(_MAX_STACKED):
            err = self._sys_umount(target, 0)
            if err == errno.EBUSY:
                logger.warning("mount busy, detaching lazily: path=%s", target)
                err = self._sys_umount(target, MNT_DETACH)
            if err in (errno.EINVAL, errno.ENOENT):
                break  # not (or no longer) a mount point: done
            if err:
                raise OSError(err, f"umount: {os.strerror(err)}", target)
        else:
            raise OSError(errno.EBUSY, f"still mounted after {_MAX_STACKED} unmounts", target)
        if remove:
            _remove_mount_point(target)


def _remove_mount_point(path: str) -> None:
    # rmdir, never a recursive delete: if something is still mounted or written there, fail loudly.
    with contextlib.suppress(FileNotFoundError):
        if os.path.islink(path):
            os.unlink(path)
        else:
            os.rmdir(path)


# --- the fake one ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeMount:
    """What FakeMounter recorded at one path."""

    kind: str  # "tmpfs" or "bind"
    source: str | None  # the bind source (real path); None for tmpfs
    read_only: bool
    size: str | None = None


class FakeMounter:
    """An in-memory mount table for unit tests.

    Creates (and, with `remove=True`, removes) the same directories as `SyscallMounter`, but mounts
    nothing: a "bind mounted" target is an empty directory, and the files stay reachable only through
    the store's data directory. `calls` records every call; `fail_next(op, error)` makes the next call
    of method `op` raise `error` instead of acting.
    """

    def __init__(self) -> None:
        self.mounts: dict[str, FakeMount] = {}
        self.calls: list[tuple[str, str]] = []
        self._failures: dict[str, list[OSError]] = {}

    def fail_next(self, op: str, error: OSError) -> None:
        if op not in ("mount_tmpfs", "bind_readonly", "unmount"):
            raise ValueError(f"op {op!r}: not a failing FakeMounter operation")
        self._failures.setdefault(op, []).append(error)

    def _enter(self, op: str, path: str) -> None:
        self.calls.append((op, path))
        queued = self._failures.get(op)
        if queued:
            raise queued.pop(0)

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        target = _real(path)
        self._enter("mount_tmpfs", target)
        os.makedirs(target, exist_ok=True)
        os.chmod(target, mode)
        self.mounts[target] = FakeMount(kind="tmpfs", source=None, read_only=False, size=size)

    def is_mount_point(self, path: StrPath) -> bool:
        return _real(path) in self.mounts

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        mount = self.mounts.get(_real(target))
        return mount is not None and mount.kind == "bind" and mount.source == _real(source)

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = _real(source), _real(target)
        self._enter("bind_readonly", dst)
        if not os.path.isdir(src):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src)
        if dst in self.mounts:
            if self.is_bind_of(dst, src):
                return
            raise OSError(errno.EBUSY, "something else is mounted at the target", dst)
        os.makedirs(dst, mode=0o750, exist_ok=True)
        self.mounts[dst] = FakeMount(kind="bind", source=src, read_only=True)

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        target = _real(path)
        self._enter("unmount", target)
        self.mounts.pop(target, None)
        if remove:
            _remove_mount_point(os.fspath(path))


# --- the unsafe one --------------------------------------------------------------------------------


class DirectoryMounter:
    """UNSAFE no-root mode (`--unsafe-no-mount`): plain directories and symlinks instead of mounts.

    - `mount_tmpfs` only creates the directory: private keys are written to the disk that holds the
      data root, not to memory.
    - `bind_readonly` replaces the target by a symlink to the source: the files are neither
      read-only nor confined, and a symlink does not cross a container boundary.

    Meant for running the driver as an ordinary user on a workstation; never in a cluster.
    """

    def __init__(self) -> None:
        self._tmpfs: set[str] = set()
        logger.warning("UNSAFE: --unsafe-no-mount: keys are stored on disk and targets are symlinks")

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        target = _real(path)
        os.makedirs(target, exist_ok=True)
        os.chmod(target, mode)
        self._tmpfs.add(target)

    def is_mount_point(self, path: StrPath) -> bool:
        p = os.fspath(path)
        return os.path.islink(p) or _real(p) in self._tmpfs or os.path.ismount(p)

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        t = os.fspath(target)
        return os.path.islink(t) and os.readlink(t) == _real(source)

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = _real(source), os.fspath(target)
        if not os.path.isdir(src):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src)
        if os.path.islink(dst):
            if os.readlink(dst) == src:
                return
            raise OSError(errno.EBUSY, "the target already links elsewhere", dst)
        if os.path.isdir(dst):
            os.rmdir(dst)  # raises ENOTEMPTY rather than hide what is there
        os.symlink(src, dst)

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        p = os.fspath(path)
        if os.path.islink(p):
            os.unlink(p)
            return
        self._tmpfs.discard(_real(p))
        if remove:
            _remove_mount_point(p)


__all__ = [
    "DirectoryMounter",
    "FakeMount",
    "FakeMounter",
    "MountInfo",
    "Mounter",
    "SyscallMounter",
    "parse_mountinfo",
    "read_mountinfo",
    "topmost_mount",
]
