"""The demo's SPIFFE Workload API client: what a workload in the pod does with `SPIFFE_ENDPOINT_SOCKET`.

It opens FetchX509SVID on the socket in the pod's volume (with the spec's security header), and
turns a received SVID into the PEM files Python's `ssl` module loads (it takes no key from memory),
in a private directory of the demo's work directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)
from grpclib.client import Channel, Stream

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.drivers.spiffe.workload._gen.workload_grpc import SpiffeWorkloadAPIStub
from certcsi.drivers.spiffe.workload.opting import DEFAULT_SOCKET_NAME
from certcsi.drivers.spiffe.workload.serving import SECURITY_HEADER
from certcsi.pki.certs import chain_pem
from certcsi.volumes.store import DATA_LINK

__all__ = ["FetchedSvid", "SvidStream", "der_certificates", "files_swapped", "open_svid_stream", "write_for_ssl"]


@dataclass(frozen=True)
class FetchedSvid:
    """One FetchX509SVID message, decoded; `received` on the monotonic clock."""

    spiffe_id: str
    chain: list[x509.Certificate]
    key_der: bytes
    bundle: list[x509.Certificate]
    received: float

    @property
    def serial(self) -> str:
        return f"{self.chain[0].serial_number:x}"[:16]


def der_certificates(data: bytes) -> list[x509.Certificate]:
    """Concatenated DER certificates (the Workload API's encoding) one by one.

    `cryptography` parses one certificate and refuses trailing bytes, so each certificate's extent is
    taken from its outer SEQUENCE header (tag 0x30, then a short or long DER length).
    """
    certs: list[x509.Certificate] = []
    while data:
        if len(data) < 2 or data[0] != 0x30:
            raise ValueError("not a DER certificate sequence")
        if data[1] < 0x80:
            header, length = 2, data[1]
        else:
            size = data[1] & 0x7F
            header, length = 2 + size, int.from_bytes(data[2 : 2 + size], "big")
        certs.append(x509.load_der_x509_certificate(data[: header + length]))
        data = data[header + length :]
    return certs


def _decode(message: pb.X509SVIDResponse) -> FetchedSvid:
    svid = message.svids[0]
    return FetchedSvid(
        spiffe_id=svid.spiffe_id,
        chain=der_certificates(svid.x509_svid),
        key_der=svid.x509_svid_key,
        bundle=der_certificates(svid.bundle),
        received=time.monotonic(),
    )


class SvidStream:
    """An open FetchX509SVID call: `next()` is the next SVID the driver pushes."""

    def __init__(self, stream: Stream[pb.X509SVIDRequest, pb.X509SVIDResponse]) -> None:
        self._stream = stream

    async def next(self, *, timeout: float) -> FetchedSvid:
        async with asyncio.timeout(timeout):
            message = await self._stream.recv_message()
        if message is None:
            raise ConnectionError("the Workload API stream ended")
        return _decode(message)


@contextlib.asynccontextmanager
async def open_svid_stream(volume_dir: Path, *, socket_name: str = DEFAULT_SOCKET_NAME) -> AsyncIterator[SvidStream]:
    """FetchX509SVID on `<volume_dir>/<socket_name>`, as a pod reaches it at its mount path.

    The socket is named through `/proc/self/fd`: the sandbox's pod paths are longer than a socket
    address may be (a real pod's mount path is short).
    """
    directory = os.open(volume_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    channel = Channel(path=f"/proc/self/fd/{directory}/{socket_name}")
    try:
        method = SpiffeWorkloadAPIStub(channel).FetchX509SVID
        async with method.open(metadata={SECURITY_HEADER: "true"}) as stream:
            await stream.send_message(pb.X509SVIDRequest(), end=True)
            yield SvidStream(stream)
            await stream.cancel()
    finally:
        channel.close()
        os.close(directory)


def write_for_ssl(svid: FetchedSvid, directory: Path) -> Path:
    """`tls.crt`, `tls.key` (0600) and `ca.crt` for `ssl`'s loaders, in `directory` (made 0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = load_der_private_key(svid.key_der, None)
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(directory / "tls.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    (directory / "tls.crt").write_bytes(chain_pem(svid.chain))
    (directory / "ca.crt").write_bytes(chain_pem(svid.bundle))
    return directory


async def files_swapped(volume_dir: Path, *, since: str) -> float:
    """When the volume's `..data` link stops pointing at `since` (new files in place), polled every 5 ms."""
    link = volume_dir / DATA_LINK
    while os.readlink(link) == since:  # noqa: ASYNC110 - another process's files: nothing to await
        await asyncio.sleep(0.005)
    return time.monotonic()
