"""For tests that run in a network namespace of their own (`unshare --net`): bring its loopback up."""

from __future__ import annotations

import fcntl
import socket
import struct


def loopback_up() -> None:
    """A new network namespace starts with `lo` down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(probe, siocgifflags, request)[:18])[1]
        fcntl.ioctl(probe, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))
