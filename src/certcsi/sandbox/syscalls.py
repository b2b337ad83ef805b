"""mount(2), umount2(2) and unshare(2) through libc, for the sandbox node's containers (root only).

Python 3.11 has no os.unshare; ctypes keeps the container launcher free of util-linux binaries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MNT_DETACH = 0x2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str | os.PathLike[str], fs_type: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            os.fsencode(target),
            fs_type.encode() if fs_type else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def bind(source: str | os.PathLike[str], target: str | os.PathLike[str], *, read_only: bool = False) -> None:
    """A recursive bind mount; read-only needs the second, remounting step, as mount(8) does it."""
    mount(os.fspath(source), target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def set_propagation(target: str | os.PathLike[str], flag: int, *, recursive: bool) -> None:
    mount(None, target, None, flag | (MS_REC if recursive else 0))


def unmount(target: str | os.PathLike[str], *, lazy: bool = False) -> None:
    _check(_libc.umount2(os.fsencode(target), MNT_DETACH if lazy else 0), f"umount {target}")


def unshare_mounts() -> None:
    """A private copy of the mount table for this process (propagation settings are kept)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")


def holding_mount(path: str | os.PathLike[str], *, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, bool]:
    """The mount point of the mount that holds `path` here, and whether that mount is shared (propagates).

    Read from mountinfo: the longest mount point that is `path` or above it; "shared:N" among the
    optional fields means mounts made under it appear in its peers, possibly in other namespaces.
    """
    target = os.path.realpath(path)
    best, shared = "/", False
    for line in Path(mountinfo).read_text().splitlines():
        fields = line.split()
        point = fields[4].encode().decode("unicode_escape")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            optional = fields[6 : fields.index("-")]
            best, shared = point, any(tag.startswith("shared:") for tag in optional)
    return best, shared
