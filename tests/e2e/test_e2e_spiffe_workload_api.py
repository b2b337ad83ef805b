"""The SPIFFE Workload API in a pod's volume, end to end: the real `certcsi spiffe-driver` process with its
tmpfs and read-only bind mounts, the kubelet stand-in, and the `spiffe` library's WorkloadApiClient.

A container sees the volume through a second read-only bind mount of the target (as kubelet mounts it
into the container), at a short path, so its socket path fits a unix socket address as in a real pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
from cryptography.x509.verification import PolicyBuilder, Store
from spiffe import WorkloadApiClient
from spiffe._proto import workload_pb2, workload_pb2_grpc
from spiffe.spiffe_id.spiffe_id import TrustDomain
from spiffe.svid.x509_svid import X509Svid
from spiffe.workloadapi.x509_context import X509Context
from spiffe_node_support import ACCOUNT, NAMESPACE, SpiffeNode, eventually, pod_yaml, spiffe_node

from certcsi.drivers.spiffe.workload.opting import WORKLOAD_API
from certcsi.volumes.mount import SyscallMounter
from certcsi.volumes.store import DATA_LINK

SPIFFE_ID = f"spiffe://cluster.local/ns/{NAMESPACE}/sa/{ACCOUNT}"
FS_GROUP = 2345
APP_UID = 1000
# Renewed at two thirds of 12 s: a renewal lands while the test watches.
SHORT_LIVED = ("--certificate-request-duration", "12s")


@contextlib.contextmanager
def container_mount(node: SpiffeNode, pod: str) -> Iterator[Path]:
    """The pod's volume as its container sees it: the target bind-mounted read-only at a short path."""
    container = node.workdir / "c" / pod
    container.parent.mkdir(exist_ok=True)
    mounter = SyscallMounter()
    mounter.bind_readonly(node.pod_data(pod), container)
    try:
        yield container
    finally:
        mounter.unmount(container, remove=True)


@contextlib.asynccontextmanager
async def running_pods(node: SpiffeNode, *pods: tuple[str, str | None]) -> AsyncIterator[None]:
    for name, workload_api in pods:
        attributes = {WORKLOAD_API: workload_api} if workload_api else None
        security = f"{{fsGroup: {FS_GROUP}, runAsUser: {APP_UID}}}"
        await node.kubelet.apply(pod_yaml(name, ACCOUNT, attributes=attributes, security_context=security))
    await asyncio.gather(*(node.kubelet.wait_ready(NAMESPACE, name, timeout=30) for name, _ in pods))
    yield


def verify(svid: X509Svid, authorities: Any) -> list[str]:
    """The SPIFFE IDs the chain verifies for against `authorities` (as a TLS peer checks a client)."""
    verifier = PolicyBuilder().store(Store(list(authorities))).build_client_verifier()
    verified = verifier.verify(svid.leaf, svid.cert_chain[1:])
    return [str(name.value) for name in verified.subjects or []]


def connect_as(directory: Path, *, uid: int, groups: list[int]) -> int:
    """errno of connecting to `directory/spiffe.sock` as `uid` with `groups` (0: connected).

    The child starts as root (to reach the interpreter), enters the directory, then drops to the
    user, as a non-root container process is: only the volume's own permissions apply from there.
    """
    code = f"""
import os, socket, sys
os.chdir({str(directory)!r})
os.setgroups({groups[1:]!r}); os.setgid({groups[0]}); os.setuid({uid})
assert os.getuid() == {uid} and os.geteuid() == {uid}
try:
    socket.socket(socket.AF_UNIX).connect("spiffe.sock")
except OSError as err:
    sys.exit(err.errno)
"""
    return subprocess.run([sys.executable, "-c", code], check=False).returncode


async def test_a_pod_fetches_its_svid_and_a_renewal_arrives_on_the_open_stream() -> None:
    async with (
        spiffe_node(mounts=True, extra_args=SHORT_LIVED) as node,
        running_pods(node, ("web", "true"), ("plain", None)),
    ):
        assert not (node.pod_data("plain") / "spiffe.sock").exists(), "a pod that did not opt in has no socket"
        with container_mount(node, "web") as container:
            socket_path = container / "spiffe.sock"
            assert stat.S_ISSOCK(os.lstat(socket_path).st_mode)
            with pytest_raises_erofs():
                (container / "probe").write_bytes(b"x")

            client = WorkloadApiClient(socket_path=f"unix://{socket_path}")
            try:
                svid = await asyncio.to_thread(client.fetch_x509_svid, timeout=10)
                assert str(svid.spiffe_id) == SPIFFE_ID
                bundles = await asyncio.to_thread(client.fetch_x509_bundles, timeout=10)
                bundle = bundles.get_bundle_for_trust_domain(TrustDomain("cluster.local"))
                assert bundle is not None
                assert verify(svid, bundle.x509_authorities) == [SPIFFE_ID]
                await _renewal_reaches_open_streams(node, client, socket_path)
            finally:
                client.close()


async def _renewal_reaches_open_streams(node: SpiffeNode, client: WorkloadApiClient, socket_path: Path) -> None:
    contexts: queue.Queue[X509Context] = queue.Queue()
    errors: list[Exception] = []
    watching = client.stream_x509_contexts(on_success=contexts.put, on_error=errors.append)
    channel = grpc.insecure_channel(f"unix:{socket_path}")
    try:
        # One FetchX509SVID call read by hand: two messages on it prove the push came without reconnecting.
        call = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel).FetchX509SVID(
            workload_pb2.X509SVIDRequest(), metadata=(("workload.spiffe.io", "true"),)
        )
        first = await asyncio.to_thread(next, call)
        initial = await asyncio.to_thread(contexts.get, timeout=10)
        data_link = node.pod_data("web") / DATA_LINK
        before = os.readlink(data_link)
        swapped = asyncio.ensure_future(_when_changed(data_link, before))
        pushed = await asyncio.wait_for(asyncio.to_thread(_next_with_time, call), timeout=30)
        written_at = await asyncio.wait_for(swapped, timeout=5)
        message, received_at = pushed
        assert received_at - written_at < 1.0, f"pushed {received_at - written_at:.3f}s after the files were written"
        assert message.svids[0].x509_svid != first.svids[0].x509_svid
        renewed = X509Svid.parse_raw(message.svids[0].x509_svid, message.svids[0].x509_svid_key)
        assert str(renewed.spiffe_id) == SPIFFE_ID
        on_disk = X509Svid.parse(
            (node.pod_data("web") / "tls.crt").read_bytes(), (node.pod_data("web") / "tls.key").read_bytes()
        )
        assert on_disk.leaf.serial_number == renewed.leaf.serial_number, "the pushed SVID is the one written"

        # The library's own stream saw the same renewal.
        later = await asyncio.to_thread(contexts.get, timeout=10)
        assert later.default_svid.leaf.serial_number == renewed.leaf.serial_number
        assert initial.default_svid.leaf.serial_number != renewed.leaf.serial_number
        assert errors == []
        call.cancel()
    finally:
        watching.cancel()
        channel.close()


def _next_with_time(call: Any) -> tuple[Any, float]:
    message = next(call)
    return message, time.monotonic()


async def _when_changed(link: Path, before: str) -> float:
    """The moment `..data` is swapped (the new files are all in place), polled every 5 ms."""
    while os.readlink(link) == before:  # noqa: ASYNC110 - another process's files: nothing to await
        await asyncio.sleep(0.005)
    return time.monotonic()


async def test_only_the_volumes_group_can_connect() -> None:
    async with spiffe_node(mounts=True) as node, running_pods(node, ("web", "true")):
        with container_mount(node, "web") as container:
            mode = os.lstat(container / "spiffe.sock")
            assert (stat.S_IMODE(mode.st_mode), mode.st_uid, mode.st_gid) == (0o660, 0, FS_GROUP)
            assert await asyncio.to_thread(connect_as, container, uid=APP_UID, groups=[FS_GROUP]) == 0
            assert await asyncio.to_thread(connect_as, container, uid=APP_UID, groups=[4321]) == errno.EACCES
            assert await asyncio.to_thread(connect_as, container, uid=APP_UID, groups=[4321, FS_GROUP]) == 0


async def test_after_a_crash_the_socket_serves_again_and_unpublish_removes_it() -> None:
    async with spiffe_node(mounts=True) as node, running_pods(node, ("web", "true")):
        with container_mount(node, "web") as container:
            socket_path = container / "spiffe.sock"
            client = WorkloadApiClient(socket_path=f"unix://{socket_path}")
            contexts: queue.Queue[X509Context] = queue.Queue()
            watching = client.stream_x509_contexts(on_success=contexts.put, on_error=lambda err: None)
            try:
                await asyncio.to_thread(contexts.get, timeout=10)
                stale = os.lstat(socket_path).st_ino
                await node.restart_driver()
                # The library reconnects by itself (its backoff) and gets the SVID from the new process.
                again = await asyncio.to_thread(contexts.get, timeout=30)
                assert str(again.default_svid.spiffe_id) == SPIFFE_ID
                assert os.lstat(socket_path).st_ino != stale, "the dead process's socket was replaced"
            finally:
                watching.cancel()
                client.close()
        data_dir = node.pod_data("web")
        await node.kubelet.delete_pod(NAMESPACE, "web")
        await eventually(lambda: not data_dir.exists(), what="the volume unpublished")
        volumes = node.workdir / "csi-data-dir" / "inmemfs"
        assert list(volumes.glob("*/data/spiffe.sock")) == []


@contextlib.contextmanager
def pytest_raises_erofs() -> Iterator[None]:
    try:
        yield
    except OSError as err:
        assert err.errno == errno.EROFS, err
    else:
        raise AssertionError("a write to the read-only volume succeeded")
