"""Linux's new mount API, the three calls a read-only bind needs: open_tree, mount_setattr, move_mount.

Why not mount(2): a bind made by mount(2) is attached writable and copied at once into every peer group
it propagates to (the host's /var/lib/kubelet/pods, for a driver container with Bidirectional
propagation); the remount that makes it read-only afterwards changes only the driver's copy. Here the
copy is made detached (open_tree), made read-only while detached (mount_setattr), and only then attached
(move_mount): every copy the kernel propagates is read-only from the moment it exists.

Neither Python nor glibc before 2.36 wraps these calls: they go through syscall(2) by number. The numbers
come from the kernel's generic table, shared by x86_64 and aarch64 (open_tree and move_mount since 5.2,
mount_setattr since 5.12); on another architecture `MountApi.detect` answers None and the caller keeps
to mount(2).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from typing import ClassVar

_GENERIC_NUMBERS = {"open_tree": 428, "move_mount": 429, "mount_setattr": 442}
_SYSCALL_NUMBERS = {"x86_64": _GENERIC_NUMBERS, "aarch64": _GENERIC_NUMBERS}

OPEN_TREE_CLONE = 0x1
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8


class _MountAttr(ctypes.Structure):
    """struct mount_attr, its first published version (MOUNT_ATTR_SIZE_VER0, 32 bytes)."""

    _fields_: ClassVar = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class MountApiUnavailable(Exception):
    """This kernel, or a seccomp filter in front of it, refuses a call of the API that mount(2) would allow."""

    def __init__(self, syscall: str, code: int) -> None:
        super().__init__(f"{syscall}: {os.strerror(code)}")
        self.syscall = syscall
        self.errno = code


# ENOSYS: a kernel older than the call (or a filter answering as one). EPERM: a container runtime's seccomp
# profile that predates the call; without CAP_SYS_ADMIN, mount(2) then fails with EPERM too, and says so.
_UNAVAILABLE = (errno.ENOSYS, errno.EPERM)


class MountApi:
    """The calls, for the architecture this process runs on."""

    def __init__(self, numbers: dict[str, int] = _GENERIC_NUMBERS) -> None:
        self._numbers = numbers
        self._syscall_fn = ctypes.CDLL(None, use_errno=True).syscall
        self._syscall_fn.restype = ctypes.c_long

    @classmethod
    def detect(cls) -> MountApi | None:
        """The API for this machine's architecture; None where its syscall numbers are not known here."""
        numbers = _SYSCALL_NUMBERS.get(platform.machine())
        return None if numbers is None else cls(numbers)

    def _syscall(self, name: str, *args: object) -> int:
        """syscall(2) by name; OSError (errno, "name: reason") on failure."""
        rc = int(self._syscall_fn(ctypes.c_long(self._numbers[name]), *args))
        if rc < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{name}: {os.strerror(code)}")
        return rc

    def attach_clone(self, source_fd: int, target_fd: int, *, attributes: int) -> None:
        """Bind the directory open at `source_fd` onto the directory open at `target_fd`, with the
        MOUNT_ATTR_* `attributes` set before it is attached (and so before it propagates anywhere).

        Both descriptors may be O_PATH; neither path is resolved again. MountApiUnavailable when the
        kernel lacks a call: nothing was mounted, and mount(2) may be used instead. Any other failure is
        an OSError, and nothing stays mounted: an unattached copy goes with its descriptor.
        """
        flags = OPEN_TREE_CLONE | os.O_CLOEXEC | AT_EMPTY_PATH
        tree = self._unless_unavailable("open_tree", ctypes.c_int(source_fd), b"", ctypes.c_uint(flags))
        try:
            attr = _MountAttr(attr_set=attributes)
            size = ctypes.c_size_t(ctypes.sizeof(attr))
            args = (ctypes.c_int(tree), b"", ctypes.c_uint(AT_EMPTY_PATH), ctypes.byref(attr), size)
            self._unless_unavailable("mount_setattr", *args)
            move = ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
            self._syscall("move_mount", ctypes.c_int(tree), b"", ctypes.c_int(target_fd), b"", move)
        finally:
            os.close(tree)

    def _unless_unavailable(self, name: str, *args: object) -> int:
        try:
            return self._syscall(name, *args)
        except OSError as err:
            if err.errno in _UNAVAILABLE:
                raise MountApiUnavailable(name, err.errno) from err
            raise


__all__ = [
    "MOUNT_ATTR_NODEV",
    "MOUNT_ATTR_NOEXEC",
    "MOUNT_ATTR_NOSUID",
    "MOUNT_ATTR_RDONLY",
    "MountApi",
    "MountApiUnavailable",
]
