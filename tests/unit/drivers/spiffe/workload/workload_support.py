"""The Workload API against a real store and real unix sockets, with the engine's part played by hand.

    async with workload_node() as node:               # a store in /tmp, WorkloadApi serving it
        node.issue("vol-1")                           # files written + `issued` told, as the engine does
        async with node.client("vol-1") as api:       # grpclib client on the volume's socket
            response = await api.first_svid()

Certificates are real: a CA signs a CSR with the volume's SPIFFE ID as its one URI SAN, and status.ca
is that CA (a cert-manager CA issuer's shape: chain = leaf only, root in status.ca).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.drivers.spiffe.workload._gen.workload_grpc import SpiffeWorkloadAPIStub
from certcsi.drivers.spiffe.workload.listening import Limits
from certcsi.drivers.spiffe.workload.node import WorkloadApi, WorkloadApiOptions
from certcsi.drivers.spiffe.workload.opting import WORKLOAD_API
from certcsi.drivers.spiffe.workload.reading import FileNames
from certcsi.pki.certs import certificate_pem
from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, encode_private_key, generate_private_key
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.volumes.driver import Issued, Volume
from certcsi.volumes.hooks import NodeServices
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.reporting import IssuanceDone
from certcsi.volumes.rewrite import volume_of
from certcsi.volumes.store import Metadata, Store

SPIFFE_OWNER = Owner("spiffe.csi.cert-manager.io")

TRUST_DOMAIN = "cluster.local"
HEADER = {"workload.spiffe.io": "true"}
CA_KEY, CA_CERT = create_ca(common_name="workload test CA")
CA_PEM = certificate_pem(CA_CERT)
OPTED_IN = {WORKLOAD_API: "true"}


def spiffe_id(volume_id: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/default/sa/{volume_id}"


@dataclass(frozen=True)
class IssuedFiles:
    files: dict[str, bytes]
    leaf: x509.Certificate
    key_der: bytes = field(repr=False)


def issue_files(identity: str, *, ca: bytes | None = None) -> IssuedFiles:
    """tls.crt (the leaf alone, as cert-manager's CA issuer returns it for a root CA), tls.key (PKCS#8)."""
    key = generate_private_key(KeySpec("ECDSA", 256))
    csr = x509.load_pem_x509_csr(build_csr(key, CsrSpec(uris=(identity,))))
    leaf = sign_csr(
        ca_key=CA_KEY, ca_cert=CA_CERT, csr=csr, duration=timedelta(hours=1), usages=["client auth"], is_ca=False
    )
    files = {"tls.crt": certificate_pem(leaf), "tls.key": encode_private_key(key, "PKCS8")}
    if ca is not None:
        files["ca.crt"] = ca
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return IssuedFiles(files=files, leaf=leaf, key_der=der)


def volume(volume_id: str, attributes: Mapping[str, str] = OPTED_IN, *, group: int | None = None) -> Volume:
    return Volume(
        volume_id=volume_id, target_path=f"/pods/{volume_id}/mount", attributes=dict(attributes), mount_group=group
    )


class WorkloadClient:
    """One connection to a volume's socket, the way SPIFFE libraries call it (with the security header)."""

    def __init__(self, path: Path) -> None:
        self.channel = Channel(path=str(path))
        self.stub = SpiffeWorkloadAPIStub(self.channel)

    async def first_svid(self, *, metadata: Mapping[str, str] = HEADER, timeout: float = 5) -> pb.X509SVIDResponse:
        async with self.stub.FetchX509SVID.open(metadata=dict(metadata), timeout=timeout) as stream:
            await stream.send_message(pb.X509SVIDRequest(), end=True)
            message = await stream.recv_message()
            assert message is not None, "the stream ended without a message"
            await stream.cancel()
            return message

    def close(self) -> None:
        self.channel.close()


async def status_of(call: Any) -> tuple[Status, str | None]:
    """The status a call ends with (OK and None when it returns)."""
    try:
        await call
    except GRPCError as err:
        return err.status, err.message
    return Status.OK, None


@dataclass
class WorkloadNode:
    root: Path
    store: Store
    api: WorkloadApi
    clients: list[WorkloadClient] = field(default_factory=list)

    def socket(self, volume_id: str) -> Path:
        return self.store.data_dir(volume_id) / "spiffe.sock"

    def issue(
        self,
        volume_id: str,
        attributes: Mapping[str, str] = OPTED_IN,
        *,
        ca_pem: bytes = CA_PEM,
        ca_file: bytes | None = None,
        group: int | None = None,
    ) -> IssuedFiles:
        """What Manager._issue does for the volume: metadata, files, then the observer call."""
        vol = volume(volume_id, attributes, group=group)
        if self.store.read_metadata(volume_id) is None:
            meta = Metadata(volume_id=volume_id, target_path=vol.target_path, volume_context=dict(attributes))
            self.store.write_metadata(meta)
        issued = issue_files(spiffe_id(volume_id), ca=ca_file)
        self.store.write_files(volume_id, issued.files, fs_group=group)
        now = datetime.now(UTC)
        done = Issued(
            certificate_pem=issued.files["tls.crt"],
            ca_pem=ca_pem,
            not_before=now,
            not_after=now + timedelta(hours=1),
            request_name=f"req-{volume_id}",
        )
        self.api.issued(vol, IssuanceDone(issued=done, first=True, recovered=False, duration=0.0))
        return issued

    def unpublish(self, volume_id: str) -> None:
        """What Manager.unpublish does: the directory goes, then the observer is told."""
        self.store.remove_volume(volume_id)
        self.api.forgotten(volume_id)

    def client(self, volume_id: str) -> WorkloadClient:
        client = WorkloadClient(self.socket(volume_id))
        self.clients.append(client)
        return client


@contextlib.asynccontextmanager
async def workload_node(
    *,
    limits: Limits | None = None,
    default_enabled: bool = False,
    root: Path | None = None,
    mounter: FakeMounter | None = None,
) -> AsyncIterator[WorkloadNode]:
    """A store (opened on a plain /tmp directory) and a WorkloadApi serving it until the block ends.

    `root` (and `mounter`): an existing data root, as a restarted driver finds it; the caller removes it.
    """
    own_root = root is None
    # Under /tmp: the test's socket paths must stay short enough for a client to connect.
    base = Path(tempfile.mkdtemp(prefix="wl-", dir="/tmp")) if root is None else root
    try:
        store = Store(data_root=base / "root", mounter=mounter or FakeMounter(), owner=SPIFFE_OWNER)
        store.open()
        api = WorkloadApi(
            options=WorkloadApiOptions(default_enabled=default_enabled, limits=limits or Limits()),
            trust_domain=TRUST_DOMAIN,
            files=FileNames(),
            fs_group=lambda vol: vol.mount_group,
        )
        node = WorkloadNode(root=base, store=store, api=api)
        # What the engine would have resumed: every volume the store kept, as its metadata describes it.
        resumed = [volume_of(meta) for meta in map(store.read_metadata, store.list_volume_ids()) if meta is not None]
        services = NodeServices(kube=None, store=store, clock=None, volumes=resumed)  # type: ignore[arg-type]
        try:
            async with api.serve(services):
                yield node
        finally:
            for client in node.clients:
                client.close()
            store.close()  # the data root's lock, as a stopping driver gives it up
    finally:
        if own_root:
            shutil.rmtree(base, ignore_errors=True)


async def eventually(check: Any, *, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.01)


class OpenStream:
    """An open FetchX509SVID / FetchX509Bundles stream: `next()` is the next message, within a timeout."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def next(self, timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            message = await self.stream.recv_message()
            if message is None:
                await self.stream.recv_trailing_metadata()  # raises GRPCError with the status it ended with
        assert message is not None, "the stream ended with OK"
        return message


@contextlib.asynccontextmanager
async def svid_stream(client: WorkloadClient, *, bundles: bool = False) -> AsyncIterator[OpenStream]:
    """A FetchX509SVID stream (FetchX509Bundles with `bundles`), request sent, cancelled on exit."""
    method = client.stub.FetchX509Bundles if bundles else client.stub.FetchX509SVID
    request = pb.X509BundlesRequest() if bundles else pb.X509SVIDRequest()
    async with method.open(metadata=dict(HEADER)) as stream:
        await stream.send_message(request, end=True)
        try:
            yield OpenStream(stream)
        finally:
            with contextlib.suppress(Exception):
                await stream.cancel()
