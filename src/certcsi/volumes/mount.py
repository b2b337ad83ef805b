"""Mounting, behind one small protocol: the tmpfs under the data root, and read-only bind mounts into pods.

Three implementations of `Mounter`:

- `SyscallMounter`: the real thing. Syscalls through ctypes (no process per mount: a publish is on the
  hot path): a pod's bind is made read-only before it is attached (the new mount API, see _mount_api), so
  every copy propagated from it is read-only too; mount(2)/umount2(2) for the rest, and
  /proc/self/mountinfo for questions about what is mounted.
- `FakeMounter`: an in-memory record for unit tests; creates the directories the real one would, so
  code that checks paths behaves the same, and can be told to fail the next call of an operation.
- `DirectoryMounter`: the UNSAFE no-root mode (`--unsafe-no-mount`): no tmpfs (keys land on whatever
  disk holds the data root), and a "bind mount" is a symlink from the target to the data directory,
  neither read-only nor isolated. For local experiments only.

Every failure is an `OSError` carrying an errno and the path concerned; a target refused by the
rules below is a `TargetRefused`, so callers tell the pod's fault from the node's without guessing from errnos.
All methods are synchronous and quick (a few syscalls); none of them blocks on the network.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno
import logging
import os
import stat
from dataclasses import dataclass
from typing import Literal, Protocol

from certcsi.volumes._mount_api import (
    MOUNT_ATTR_NODEV,
    MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY,
    MountApi,
    MountApiUnavailable,
)

logger = logging.getLogger(__name__)

StrPath = str | os.PathLike[str]


class Mounter(Protocol):
    """What the store and the manager need from the mount table.

    Nothing is ever mounted through a symlink, and nothing is unmounted or removed that the mounter
    cannot prove is its own: a target holding anything else is refused with a `TargetRefused` whose
    errno says why (ELOOP a symlink, ENOTDIR a file, ENOTEMPTY files, EBUSY another mount, ENOENT no parent).
    """

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        """Mount a fresh tmpfs at `path` (created if missing), nosuid,nodev,noexec.

        Not idempotent: the caller asks `is_mount_point` first. `size` is a tmpfs size such as
        `64m` or `10%`; None leaves the kernel default (half of RAM). ELOOP when `path` is a symlink.
        """
        ...

    def resize_tmpfs(self, path: StrPath, *, size: str) -> None:
        """Set the size limit of the tmpfs mounted at `path`, keeping its files and its other options.

        EINVAL when it holds more than `size` already (the kernel refuses to shrink below use).
        """
        ...

    def is_mount_point(self, path: StrPath) -> bool:
        """True when something is mounted exactly at `path` (False when `path` does not exist)."""
        ...

    def fs_type(self, path: StrPath) -> str | None:
        """The type of the filesystem mounted exactly at `path` (the topmost); None when nothing is."""
        ...

    def shows(self, target: StrPath, source: StrPath) -> bool:
        """True when the topmost mount at `target` (never followed when a symlink) shows the directory `source`,
        whatever its flags: a bind another driver (upstream's) or a crash left writable still holds the volume."""
        ...

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        """True when `target` shows `source` (see `shows`) as `bind_readonly` leaves it: read-only, nosuid,
        nodev, noexec. A writable bind of `source` is not."""
        ...

    def check_target(self, source: StrPath, target: StrPath) -> None:
        """Raise the `TargetRefused` `bind_readonly(source, target)` would raise for the target; change nothing.

        Accepted: no target (its parent exists), an empty directory, or a target already showing `source`.
        """
        ...

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        """Make the directory `source` visible read-only (nosuid,nodev,noexec) at `target`.

        Read-only from the moment it exists, in every peer group it propagates to (the host's view of a
        container's Bidirectional mount included), where the kernel allows it (see `SyscallMounter`).
        Creates `target` when missing (its parent must exist). Idempotent: when `target` already shows
        `source` it only makes sure that this bind is read-only (a crash between the bind and the
        remount of an older certcsi, or of upstream's driver, leaves it writable). Refuses (see
        `check_target`) a symlink, a file, a directory that is not empty and another mount. On failure
        nothing stays mounted or created.
        """
        ...

    def unbind(self, source: StrPath, target: StrPath, *, remove_target: bool = True) -> None:
        """Undo `bind_readonly(source, target)`; idempotent (nothing there: OK).

        Unmounts the binds of `source` stacked on top at `target`, then removes `target` if it is an
        empty directory (unless `remove_target` is False: a directory that was there before). Anything
        else at `target` (a symlink, a file, files, someone else's mount) is left alone; EBUSY when
        someone else's mount covers a bind of `source`.
        """
        ...

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        """Unmount everything stacked at `path`, whatever it is; idempotent (nothing mounted, or no path: OK).

        For the tmpfs and for tools that own what they unmount; a pod's target goes through `unbind`.
        Falls back to a lazy (MNT_DETACH) unmount when the mount is busy. With `remove=True`, also
        removes the mount point (an empty directory, or the symlink of `DirectoryMounter`).
        """
        ...


# --- why a target is refused -----------------------------------------------------------------------


class TargetRefused(OSError):
    """The target breaks one of the rules above: the pod's (or another mounter's) doing, not the node's.

    `target` is the path refused, `rule` the sentence that says why (also the OSError's strerror).
    """

    @property
    def target(self) -> str:
        return str(self.filename)

    @property
    def rule(self) -> str:
        return str(self.strerror)


_SYMLINK = "the target is a symbolic link: certcsi never mounts through one"
_NOT_A_DIRECTORY = "the target exists and is not a directory"
_NOT_EMPTY = "the target directory is not empty: certcsi does not hide files under a mount"
_MOUNTED = "something else is mounted at the target"
_NO_PARENT = "the target's parent directory does not exist"
_COVERED = "another mount covers certcsi's bind mount at the target: unmount it first"


def _kind_refusal(st: os.stat_result, path: str) -> OSError | None:
    """A symlink or a non-directory is refused before anything else is asked about it."""
    if stat.S_ISLNK(st.st_mode):
        return TargetRefused(errno.ELOOP, _SYMLINK, path)
    if not stat.S_ISDIR(st.st_mode):
        return TargetRefused(errno.ENOTDIR, _NOT_A_DIRECTORY, path)
    return None


def _absent_target(path: str) -> None:
    """A missing target is fine when its parent exists (the caller creates the target)."""
    if not os.path.isdir(os.path.dirname(path) or "/"):
        raise TargetRefused(errno.ENOENT, _NO_PARENT, path)


def _open_target(path: str) -> int | None:
    """An O_PATH descriptor of the target (see `_open_path`); None when it is missing but may be created.

    A path that does not resolve to an object (a component that is a file, a symlink loop) is refused.
    """
    try:
        return _open_path(path)
    except FileNotFoundError:
        _absent_target(path)
        return None
    except OSError as err:
        if err.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        raise TargetRefused(err.errno, err.strerror, path) from None


def _existing_target(path: str) -> os.stat_result | None:
    """lstat of the target; None when it is missing but may be created (ENOENT when its parent is missing too)."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        _absent_target(path)
        return None


def _identity(st: os.stat_result) -> tuple[int, int]:
    # A directory has no hard links: another path showing the same (device, inode) is a mount of it.
    return (st.st_dev, st.st_ino)


def _identity_of(path: str) -> tuple[int, int] | None:
    try:
        return _identity(os.stat(path))
    except FileNotFoundError:
        return None


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


_ESCAPES = str.maketrans({"\\": "\\134", " ": "\\040", "\t": "\\011", "\n": "\\012"})


def read_mountinfo(path: str = "/proc/self/mountinfo", *, at: str | None = None) -> list[MountInfo]:
    """The mount table; with `at`, only the lines that may be mounts at `at` are parsed (a node with
    10,000 pods' binds has 10,000 lines, and the data root's tmpfs is one of them)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    if at is None:
        return parse_mountinfo(text)
    needle = f" {at.translate(_ESCAPES)} "
    lines = "\n".join(line for line in text.splitlines() if needle in line)
    return [entry for entry in parse_mountinfo(lines) if entry.mount_point == at]


def topmost_mount(entries: list[MountInfo], mount_point: str) -> MountInfo | None:
    """The mount visible at `mount_point` (the last one stacked there), if any."""
    found = None
    for entry in entries:
        if entry.mount_point == mount_point:
            found = entry
    return found


def _holding_mount(entries: list[MountInfo], real_path: str) -> MountInfo | None:
    """The mount whose filesystem holds `real_path` (the deepest mount point above it, topmost if stacked)."""
    found: MountInfo | None = None
    for entry in entries:
        point = entry.mount_point
        inside = real_path == point or real_path.startswith(point.rstrip("/") + "/")
        if inside and (found is None or len(point) >= len(found.mount_point)):
            found = entry
    return found


def binds_of(entries: list[MountInfo], *, source: str, mount_point: str) -> list[MountInfo]:
    """The mounts at `mount_point` (real path) showing the directory `source` (real path), bottom to top.

    Matched by device and path within that filesystem, as mountinfo records a bind; a bind whose
    source was deleted since is still found (mountinfo then appends `//deleted` to its root).
    """
    holder = _holding_mount(entries, source)
    if holder is None:
        return []
    root = os.path.normpath(os.path.join(holder.root, os.path.relpath(source, holder.mount_point)))
    roots = (root, root + "//deleted")
    return [e for e in entries if e.mount_point == mount_point and e.device == holder.device and e.root in roots]


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
_READ_ONLY_HARDENED_ATTRS = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
# The same four as statfs(2) reports them for the mount a descriptor is on.
_READ_ONLY_HARDENED_FLAGS = os.ST_RDONLY | os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC
_LEGACY_BINDS = (
    "the new mount API (open_tree, mount_setattr, move_mount) is unavailable; binds are made read-only by a "
    "remount, which does not reach the copies propagated into peer mounts (the host's view stays writable)"
)
# Stacked mounts are unusual (a crash between two binds); more than this means something is wrong.
_MAX_STACKED = 16


# Measured: a renewed volume takes 32 KiB of the tmpfs (8 pages: metadata.json, status.json and two
# file sets of three files, the previous one kept for readers mid-swap), the largest 60 KiB (RSA-8192
# with a PKCS#12 keystore). 512 MiB holds 16,000 typical volumes (8,700 of the largest), beyond any
# node's pod limit. A limit, not a reservation: memory is used only as files are written.
DEFAULT_TMPFS_SIZE = "512m"


def valid_tmpfs_size(size: str) -> bool:
    """Digits with an optional k, m, g or % suffix (tmpfs(5)'s `size=`); 0 is no limit."""
    # Refuse anything that could smuggle more mount options in (a comma, an equals sign).
    body = size[:-1] if size[-1:].lower() in ("k", "m", "g", "%") else size
    return body.isdigit() and body.isascii()


def _open_path(path: str) -> int:
    """An O_PATH descriptor of `path` itself: a symlink in its last component is opened, never followed."""
    return os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)


def _is_read_only_hardened(fd: int) -> bool:
    """Whether the mount the descriptor is on is read-only, nosuid, nodev and noexec (per mount, not per fs)."""
    return os.fstatvfs(fd).f_flag & _READ_ONLY_HARDENED_FLAGS == _READ_ONLY_HARDENED_FLAGS


def _fd_path(fd: int) -> str:
    # mount(2) and umount2(2) given this magic link act on exactly the object behind the descriptor:
    # whatever happens to the path meanwhile (a symlink swapped in) cannot redirect them.
    return f"/proc/self/fd/{fd}"


class SyscallMounter:
    """Syscalls via ctypes on libc; answers from /proc/self/mountinfo.

    Race-free against symlinks: a target is opened once with O_PATH|O_NOFOLLOW, checked through that
    descriptor (fstat, its directory listing), and mounted on through that descriptor (move_mount, or
    mount(2) on /proc/self/fd/N), so the object checked is the object mounted on (lstat-then-mount would
    leave a window to swap a symlink in). An unmount first proves, on a descriptor of the mount's root,
    that it shows our source directory.

    Read-only everywhere: a pod's bind is cloned detached, made read-only, then attached (`MountApi`,
    Linux 5.12+ on x86_64 and aarch64), so the copies the kernel propagates into peer mounts (the host's,
    for a container with Bidirectional propagation) are read-only as well. Where that API is missing,
    the bind is made with mount(2) and remounted read-only as upstream does: read-only in this mount
    namespace only, its propagated copies stay writable (a warning says so, once). `mount_api`: "detect"
    (the default), a `MountApi`, or None for mount(2) only.
    """

    def __init__(
        self, *, mountinfo_path: str = "/proc/self/mountinfo", mount_api: MountApi | Literal["detect"] | None = "detect"
    ) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._mount = libc.mount
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        self._mount.restype = ctypes.c_int
        self._umount2 = libc.umount2
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._umount2.restype = ctypes.c_int
        self._mountinfo_path = mountinfo_path
        self._mount_api = MountApi.detect() if mount_api == "detect" else mount_api
        if self._mount_api is None and mount_api == "detect":
            logger.warning("%s: unknown architecture %s", _LEGACY_BINDS, os.uname().machine)

    def _sys_mount(
        self, source: str, target: str, fs_type: str | None, flags: int, data: str | None, *, shown: str | None = None
    ) -> None:
        """mount(2); an error names `shown` (the real path when `target` is a descriptor's magic link)."""
        rc = self._mount(
            os.fsencode(source),
            os.fsencode(target),
            None if fs_type is None else fs_type.encode(),
            flags,
            None if data is None else data.encode(),
        )
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount: {os.strerror(err)}", shown or target)

    def _sys_umount(self, target: str, flags: int, *, follow: bool = False) -> int:
        """0 on success, else the errno. Never follows a symlink, except a descriptor's magic link (`follow`)."""
        if self._umount2(os.fsencode(target), flags | (0 if follow else UMOUNT_NOFOLLOW)) == 0:
            return 0
        return ctypes.get_errno()

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        if size is not None and not valid_tmpfs_size(size):
            raise ValueError(f"tmpfs size {size!r}: must be digits with an optional k, m, g or % suffix")
        target = os.fspath(path)
        os.makedirs(os.path.dirname(target) or "/", mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(target, 0o700)
        options = f"mode={mode:o}" + ("" if size is None else f",size={size}")
        fd = _open_path(target)
        try:
            if (refusal := _kind_refusal(os.fstat(fd), target)) is not None:
                raise refusal
            self._sys_mount("tmpfs", _fd_path(fd), "tmpfs", _HARDENED, options, shown=target)
        finally:
            os.close(fd)

    def resize_tmpfs(self, path: StrPath, *, size: str) -> None:
        if not valid_tmpfs_size(size):
            raise ValueError(f"tmpfs size {size!r}: must be digits with an optional k, m, g or % suffix")
        target = os.fspath(path)
        fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # Without MS_BIND a remount changes the superblock: only `size` is given, so only it changes.
            self._sys_mount("none", _fd_path(fd), None, MS_REMOUNT | _HARDENED, f"size={size}", shown=target)
        finally:
            os.close(fd)

    def fs_type(self, path: StrPath) -> str | None:
        if not self.is_mount_point(path):
            return None
        real = _real(path)
        top = topmost_mount(read_mountinfo(self._mountinfo_path, at=real), real)
        return None if top is None else top.fs_type

    def is_mount_point(self, path: StrPath) -> bool:
        p = os.fspath(path)
        try:
            fd = _open_path(p)
        except FileNotFoundError:
            return False
        try:
            st = os.fstat(fd)
            return stat.S_ISDIR(st.st_mode) and self._is_mount_root(fd, st, p)
        finally:
            os.close(fd)

    def _is_mount_root(self, fd: int, st: os.stat_result, path: str) -> bool:
        """Whether the directory open at `fd` (found at `path`) is the root of a mount."""
        parent = os.stat("..", dir_fd=fd)
        # A different device than the parent settles it without reading the mount table; a bind mount
        # from the same filesystem does not change st_dev, so that case needs mountinfo.
        if st.st_dev != parent.st_dev or st.st_ino == parent.st_ino:
            return True
        real = _real(path)
        return topmost_mount(read_mountinfo(self._mountinfo_path, at=real), real) is not None

    def shows(self, target: StrPath, source: StrPath) -> bool:
        return self._shows(target, source, hardened=False)

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        return self._shows(target, source, hardened=True)

    def _shows(self, target: StrPath, source: StrPath, *, hardened: bool) -> bool:
        t, s = os.fspath(target), os.fspath(source)
        try:
            fd = _open_path(t)
        except FileNotFoundError:
            return False
        try:
            st = os.fstat(fd)
            # Same (device, inode) from another path: a mount of it, no need to read the mount table.
            shows_source = stat.S_ISDIR(st.st_mode) and _identity(st) == _identity_of(s) and _real(t) != _real(s)
            return shows_source and (not hardened or _is_read_only_hardened(fd))
        finally:
            os.close(fd)

    def check_target(self, source: StrPath, target: StrPath) -> None:
        dst = os.fspath(target)
        if (fd := _open_target(dst)) is None:
            return
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode) and _identity(st) == _identity_of(os.fspath(source)):
                return
            if (refusal := self._refusal(fd, st, dst)) is not None:
                raise refusal
        finally:
            os.close(fd)

    def _refusal(self, fd: int, st: os.stat_result, path: str, *, fresh: bool = False) -> OSError | None:
        """Why the object open at `fd` must not be mounted on, or None.

        `fresh`: the directory was made by this call a moment ago, so nothing can be mounted on it yet
        (which spares reading the mount table on kubelet's usual publish, where the target is missing).
        """
        if (refusal := _kind_refusal(st, path)) is not None:
            return refusal
        if not fresh and self._is_mount_root(fd, st, path):
            return TargetRefused(errno.EBUSY, _MOUNTED, path)
        if os.listdir(_fd_path(fd)):
            return TargetRefused(errno.ENOTEMPTY, _NOT_EMPTY, path)
        return None

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = os.fspath(source), os.fspath(target)
        try:
            src_fd = os.open(src, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src) from None
        try:
            source_id = _identity(os.fstat(src_fd))
            created = False
            if (fd := _open_target(dst)) is None:
                try:
                    os.mkdir(dst, 0o750)
                except (FileExistsError, FileNotFoundError) as err:  # it appeared, or its parent went, meanwhile
                    raise TargetRefused(err.errno, err.strerror, dst) from None
                created = True
                fd = _open_path(dst)
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode) and _identity(st) == source_id:
                    self._keep_read_only(fd, dst)
                    return
                if (refusal := self._refusal(fd, st, dst, fresh=created)) is not None:
                    raise refusal
                if not self._attach_read_only_clone(src_fd, fd, dst):
                    self._bind_then_remount(src_fd, fd, dst, src, source_id)
            except BaseException:
                if created:
                    with contextlib.suppress(OSError):
                        os.rmdir(dst)
                raise
            finally:
                os.close(fd)
        finally:
            os.close(src_fd)

    def _attach_read_only_clone(self, src_fd: int, fd: int, dst: str) -> bool:
        """The bind, read-only before it is attached; False (nothing done) when the kernel lacks the API."""
        if self._mount_api is None:
            return False
        try:
            self._mount_api.attach_clone(src_fd, fd, attributes=_READ_ONLY_HARDENED_ATTRS)
        except MountApiUnavailable as missing:
            logger.warning("%s: %s", _LEGACY_BINDS, missing)
            self._mount_api = None  # the kernel will not grow the call: ask once
            return False
        except OSError as err:
            raise OSError(err.errno, err.strerror, dst) from None
        return True

    def _bind_then_remount(self, src_fd: int, fd: int, dst: str, src: str, source_id: tuple[int, int]) -> None:
        """Upstream's two steps: a bind (writable, and propagated so), then a read-only remount of it."""
        self._sys_mount(_fd_path(src_fd), _fd_path(fd), None, MS_BIND, None, shown=dst)
        try:
            self._remount_read_only(dst, source_id)
        except BaseException:
            with contextlib.suppress(OSError):
                self._detach_top_bind(dst, src, source_id)
            raise

    def _remount_read_only(self, dst: str, source_id: tuple[int, int]) -> None:
        # A bind mount ignores MS_RDONLY on creation; only a remount of the bind applies it. The
        # remount goes through a descriptor of the new mount's root, proven to show our source.
        fd = os.open(dst, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if _identity(os.fstat(fd)) != source_id:
                raise TargetRefused(errno.EBUSY, "the target changed while it was being mounted", dst)
            self._remount_fd_read_only(fd, dst)
        finally:
            os.close(fd)

    def _remount_fd_read_only(self, fd: int, dst: str) -> None:
        self._sys_mount("none", _fd_path(fd), None, MS_BIND | MS_REMOUNT | MS_RDONLY | _HARDENED, None, shown=dst)

    def _keep_read_only(self, fd: int, dst: str) -> None:
        """Republish of a bind already showing our source (open at `fd`): make it read-only if it is not.

        Only this mount namespace's copy can be reached: copies propagated while it was writable stay so.
        """
        if _is_read_only_hardened(fd):
            return
        # Left so by a crash between bind and remount, or by upstream's driver.
        logger.warning("the volume's bind mount is writable; remounting it read-only: path=%s", dst)
        self._remount_fd_read_only(fd, dst)

    def unbind(self, source: StrPath, target: StrPath, *, remove_target: bool = True) -> None:
        src, dst = os.fspath(source), os.fspath(target)
        source_id = _identity_of(src)
        for _ in range(_MAX_STACKED):
            if not self._detach_top_bind(dst, src, source_id):
                break
        else:
            raise TargetRefused(errno.EBUSY, f"still mounted after {_MAX_STACKED} unmounts", dst)
        if not remove_target:
            return
        try:
            # rmdir, never a recursive delete: it removes only an empty directory that nothing is mounted on.
            os.rmdir(dst)
        except (FileNotFoundError, NotADirectoryError):
            return  # gone already, or a file or symlink certcsi did not make
        except OSError as err:
            if err.errno == errno.ENOTEMPTY:
                logger.warning("leaving a target that holds files certcsi did not write: path=%s", dst)
                return
            if err.errno != errno.EBUSY:
                raise
            if binds_of(read_mountinfo(self._mountinfo_path), source=_real(src), mount_point=_real(dst)):
                raise TargetRefused(errno.EBUSY, _COVERED, dst) from None
            logger.warning("leaving a mount certcsi did not make: path=%s", dst)

    def _detach_top_bind(self, dst: str, src: str, source_id: tuple[int, int] | None) -> bool:
        """Detach the topmost mount at `dst` if it shows `src`; False when it does not (or nothing is there)."""
        try:
            fd = _open_path(dst)
        except FileNotFoundError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISDIR(st.st_mode):
                return False
            if source_id is not None:
                ours = _identity(st) == source_id
            else:  # the source is gone: only mountinfo still knows what the mount shows
                entries = read_mountinfo(self._mountinfo_path)
                real_dst = _real(dst)  # not readlink of the descriptor: that says "(deleted)" for this mount
                top = topmost_mount(entries, real_dst)
                ours = top is not None and top in binds_of(entries, source=_real(src), mount_point=real_dst)
            if not ours:
                return False
            # Lazy: the descriptor held here (and any file a pod keeps open) would make a plain umount EBUSY.
            err = self._sys_umount(_fd_path(fd), MNT_DETACH, follow=True)
            if err == errno.EINVAL:
                return False  # not a mount root after all (the target is the source directory itself)
            if err:
                raise OSError(err, f"umount: {os.strerror(err)}", dst)
            return True
        finally:
            os.close(fd)

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

    Creates (and removes) the same directories as `SyscallMounter` and refuses the same targets, but
    mounts nothing: a "bind mounted" target is an empty directory, and the files stay reachable only
    through the store's data directory. `calls` records every call; `fail_next(op, error)` makes the
    next call of method `op` raise `error` instead of acting.
    """

    _FAILING_OPS = ("mount_tmpfs", "resize_tmpfs", "bind_readonly", "unbind", "unmount")

    def __init__(self) -> None:
        self.mounts: dict[str, FakeMount] = {}
        self.calls: list[tuple[str, str]] = []
        self._failures: dict[str, list[OSError]] = {}

    def fail_next(self, op: str, error: OSError) -> None:
        if op not in self._FAILING_OPS:
            raise ValueError(f"op {op!r}: not a failing FakeMounter operation")
        self._failures.setdefault(op, []).append(error)

    def _enter(self, op: str, path: str) -> None:
        self.calls.append((op, path))
        queued = self._failures.get(op)
        if queued:
            raise queued.pop(0)

    def mount_tmpfs(self, path: StrPath, *, size: str | None = None, mode: int = 0o700) -> None:
        self._enter("mount_tmpfs", _real(path))
        if os.path.islink(path):
            raise OSError(errno.ELOOP, _SYMLINK, os.fspath(path))
        target = _real(path)
        os.makedirs(target, exist_ok=True)
        os.chmod(target, mode)
        self.mounts[target] = FakeMount(kind="tmpfs", source=None, read_only=False, size=size)

    def resize_tmpfs(self, path: StrPath, *, size: str) -> None:
        target = _real(path)
        self._enter("resize_tmpfs", target)
        self.mounts[target] = dataclasses.replace(self.mounts[target], size=size)

    def is_mount_point(self, path: StrPath) -> bool:
        return not os.path.islink(path) and _real(path) in self.mounts

    def fs_type(self, path: StrPath) -> str | None:
        mount = self.mounts.get(_real(path)) if not os.path.islink(path) else None
        return None if mount is None else mount.kind

    def shows(self, target: StrPath, source: StrPath) -> bool:
        return not os.path.islink(target) and self._bind_at(target, source) is not None

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        bound = None if os.path.islink(target) else self._bind_at(target, source)
        return bound is not None and bound.read_only

    def _bind_at(self, target: StrPath, source: StrPath) -> FakeMount | None:
        """The recorded bind of `source` at `target`, read-only or not."""
        mount = self.mounts.get(_real(target))
        return mount if mount is not None and mount.kind == "bind" and mount.source == _real(source) else None

    def check_target(self, source: StrPath, target: StrPath) -> None:
        dst = os.fspath(target)
        if (st := _existing_target(dst)) is None:
            return
        if (refusal := _kind_refusal(st, dst)) is not None:
            raise refusal
        if self._bind_at(dst, source) is not None:
            return
        if _real(dst) in self.mounts:
            raise TargetRefused(errno.EBUSY, _MOUNTED, dst)
        if os.listdir(dst):
            raise TargetRefused(errno.ENOTEMPTY, _NOT_EMPTY, dst)

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = _real(source), os.fspath(target)
        self._enter("bind_readonly", _real(dst))
        if not os.path.isdir(src):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src)
        self.check_target(src, dst)
        if (bound := self._bind_at(dst, src)) is not None:
            self.mounts[_real(dst)] = dataclasses.replace(bound, read_only=True)
            return
        os.makedirs(dst, mode=0o750, exist_ok=True)
        self.mounts[_real(dst)] = FakeMount(kind="bind", source=src, read_only=True)

    def unbind(self, source: StrPath, target: StrPath, *, remove_target: bool = True) -> None:
        dst = os.fspath(target)
        self._enter("unbind", _real(dst))
        if os.path.islink(dst) or not os.path.isdir(dst):
            return
        if self._bind_at(dst, source) is not None:
            del self.mounts[_real(dst)]
        if _real(dst) in self.mounts or not remove_target:
            return  # someone else's mount, or a directory to keep
        with contextlib.suppress(FileNotFoundError):
            if not os.listdir(dst):
                os.rmdir(dst)

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
        if os.path.islink(path):
            raise OSError(errno.ELOOP, _SYMLINK, os.fspath(path))
        target = _real(path)
        os.makedirs(target, exist_ok=True)
        os.chmod(target, mode)
        self._tmpfs.add(target)

    def resize_tmpfs(self, path: StrPath, *, size: str) -> None:
        """Nothing to resize: this mode's "tmpfs" is a plain directory."""

    def is_mount_point(self, path: StrPath) -> bool:
        p = os.fspath(path)
        return os.path.islink(p) or _real(p) in self._tmpfs or os.path.ismount(p)

    def fs_type(self, path: StrPath) -> str | None:
        # Pretends, as mount_tmpfs does: the directory it made stands for the tmpfs.
        return "tmpfs" if _real(path) in self._tmpfs else None

    def shows(self, target: StrPath, source: StrPath) -> bool:
        t = os.fspath(target)
        return os.path.islink(t) and os.readlink(t) == _real(source)

    def is_bind_of(self, target: StrPath, source: StrPath) -> bool:
        return self.shows(target, source)

    def check_target(self, source: StrPath, target: StrPath) -> None:
        dst = os.fspath(target)
        if (st := _existing_target(dst)) is None:
            return
        if stat.S_ISLNK(st.st_mode):
            # Symlinks are this mounter's binds: its own to `source`, or another one's.
            if os.readlink(dst) != _real(source):
                raise TargetRefused(errno.EBUSY, "the target already links elsewhere", dst)
            return
        if (refusal := _kind_refusal(st, dst)) is not None:
            raise refusal
        if os.listdir(dst):
            raise TargetRefused(errno.ENOTEMPTY, _NOT_EMPTY, dst)

    def bind_readonly(self, source: StrPath, target: StrPath) -> None:
        src, dst = _real(source), os.fspath(target)
        if not os.path.isdir(src):
            raise OSError(errno.ENOTDIR, "bind source is not a directory", src)
        self.check_target(src, dst)
        if os.path.islink(dst):
            return
        if os.path.isdir(dst):
            os.rmdir(dst)
        os.symlink(src, dst)

    def unbind(self, source: StrPath, target: StrPath, *, remove_target: bool = True) -> None:
        dst = os.fspath(target)
        if self.is_bind_of(dst, source):
            os.unlink(dst)
            if not remove_target:  # this mode's bind replaced the directory: put it back
                os.mkdir(dst)
        elif remove_target and not os.path.islink(dst) and os.path.isdir(dst) and not os.listdir(dst):
            os.rmdir(dst)

    def unmount(self, path: StrPath, *, remove: bool = False) -> None:
        p = os.fspath(path)
        if os.path.islink(p):
            os.unlink(p)
            return
        self._tmpfs.discard(_real(p))
        if remove:
            _remove_mount_point(p)


__all__ = [
    "DEFAULT_TMPFS_SIZE",
    "DirectoryMounter",
    "FakeMount",
    "FakeMounter",
    "MountInfo",
    "Mounter",
    "SyscallMounter",
    "TargetRefused",
    "binds_of",
    "parse_mountinfo",
    "read_mountinfo",
    "topmost_mount",
    "valid_tmpfs_size",
]
