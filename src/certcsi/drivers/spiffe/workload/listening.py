"""One volume's Workload API socket: created in its data directory, served by its own grpclib server.

The socket is `<data dir>/<socket name>`, so the pod reaches it at `<mount path>/<socket name>`
through the read-only bind mount (connecting to a socket is no write to the filesystem). It is
created by this process as root: mode 0660, group the volume's fs group (as the files), so a
container that can read the volume's files can connect, and nobody else but root can (the data
root above it is 0700). A stale socket left by a crashed driver is replaced; anything else under
that name is left alone and the endpoint is not opened.

A socket path holds at most 107 bytes and a data directory's path is longer than that on a default
install (`/tmp/cert-manager-csi-driver/inmemfs/csi-<64 hex>/data/`), so the socket is bound through
`/proc/self/fd/<the directory's fd>/<name>`, which names the same place in a few bytes.

Each volume has at most `Limits.connections` connections: the one past the limit is closed as soon
as it is accepted (one pod can neither exhaust the driver's file descriptors nor hurt another).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from grpclib.protocol import H2Protocol
from grpclib.server import Server

from certcsi.drivers.spiffe.workload._gen.workload_grpc import SpiffeWorkloadAPIBase

__all__ = ["SOCKET_MODE", "Endpoint", "Limits", "SocketInUse", "bind_socket"]

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Limits:
    """What one volume's clients may hold: connections, open streams, and how long a send may wait."""

    connections: int = 32
    streams: int = 32
    # A stream whose client has not read an update (or sent its request) for this long is ended.
    send_timeout: float = 30.0
    backlog: int = 16


class SocketInUse(OSError):
    """Something that is not a socket already has the socket's name; it is not ours to remove."""


def bind_socket(
    directory: Path, name: str, *, group: int | None, backlog: int
) -> tuple[socket.socket, tuple[int, int]]:
    """A listening socket at `directory/name` (a stale socket there replaced); and its (device, inode)."""
    dir_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _remove_stale(dir_fd, name, directory=directory)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            listener.bind(f"/proc/self/fd/{dir_fd}/{name}")
            # The data directory (0550, fs group) already keeps others out while these two calls run.
            os.chmod(name, SOCKET_MODE, dir_fd=dir_fd, follow_symlinks=False)
            if group is not None:
                os.chown(name, -1, group, dir_fd=dir_fd, follow_symlinks=False)
            listener.listen(backlog)
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except BaseException:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dir_fd)
            raise
        return listener, (st.st_dev, st.st_ino)
    finally:
        os.close(dir_fd)


def _remove_stale(dir_fd: int, name: str, *, directory: Path) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketInUse(errno.EEXIST, "exists and is not a socket", str(directory / name))
    os.unlink(name, dir_fd=dir_fd)
    log.info("replaced a stale Workload API socket", extra={"socket": str(directory / name)})


class _Connections:
    """The live connections of one endpoint, at most `limit` of them."""

    def __init__(self, limit: int, *, socket_path: Path) -> None:
        self.limit = limit
        self.live: set[asyncio.BaseTransport] = set()
        self._socket_path = socket_path
        self._warned = False

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        if len(self.live) >= self.limit:
            if not self._warned:  # once per endpoint: a client retrying in a loop must not flood the log
                log.warning(
                    "Workload API connection limit reached; closing new connections",
                    extra={"socket": str(self._socket_path), "limit": self.limit},
                )
                self._warned = True
            return False
        self.live.add(transport)
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        self.live.discard(transport)


class _Counted(asyncio.Protocol):
    """grpclib's protocol for one connection, counted; closed at once when over the limit."""

    def __init__(self, inner: H2Protocol, connections: _Connections) -> None:
        self._inner = inner
        self._connections = connections
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        # grpclib must see the connection even when it is refused: its handler is released on connection_lost.
        self._inner.connection_made(transport)
        if not self._connections.admit(transport):
            transport.close()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._connections.release(self._transport)
        self._inner.connection_lost(exc)


class _Server(Server):
    def __init__(self, handlers: list[SpiffeWorkloadAPIBase], *, connections: _Connections) -> None:
        super().__init__(handlers)
        self._counted = connections

    def _protocol_factory(self) -> H2Protocol:
        # asyncio calls only the Protocol methods, all of which _Counted forwards.
        return cast(H2Protocol, _Counted(super()._protocol_factory(), self._counted))


class Endpoint:
    """One volume's socket and server; `open()` is synchronous, so the socket exists when it returns."""

    def __init__(
        self,
        *,
        volume_id: str,
        directory: Path,
        name: str,
        service: SpiffeWorkloadAPIBase,
        group: int | None,
        limits: Limits,
    ) -> None:
        self.volume_id = volume_id
        self.path = directory / name
        self._directory = directory
        self._name = name
        self._service = service
        self._group = group
        self._limits = limits
        self._connections = _Connections(limits.connections, socket_path=self.path)
        self._server: _Server | None = None
        self._starting: asyncio.Future[None] | None = None
        self._identity: tuple[int, int] | None = None

    @property
    def connections(self) -> int:
        return len(self._connections.live)

    def open(self) -> None:
        """Bind and listen now (clients queue in the backlog); the server accepts from the next loop turn."""
        listener, self._identity = bind_socket(
            self._directory, self._name, group=self._group, backlog=self._limits.backlog
        )
        self._server = _Server([self._service], connections=self._connections)
        self._starting = asyncio.ensure_future(self._server.start(sock=listener, backlog=self._limits.backlog))
        log.info("serving the Workload API", extra={"volume_id": self.volume_id, "socket": str(self.path)})

    async def close(self) -> None:
        """Stop listening, drop every connection, remove the socket file if it is still this endpoint's."""
        server, starting, self._server = self._server, self._starting, None
        if server is None or starting is None:
            return
        await asyncio.wait({starting})  # never raises: its outcome is read below
        started = not starting.cancelled() and starting.exception() is None
        if started:
            server.close()
        for transport in list(self._connections.live):
            transport.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if started:
                    await server.wait_closed()
        except TimeoutError:
            log.warning("Workload API server did not close in time", extra={"volume_id": self.volume_id})
        self._unlink_if_ours()
        log.info("stopped serving the Workload API", extra={"volume_id": self.volume_id})

    def _unlink_if_ours(self) -> None:
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            self.path.unlink(missing_ok=True)

    def still_in_place(self) -> bool:
        """Whether the socket file this endpoint bound is still at its path (its volume was not removed)."""
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity
