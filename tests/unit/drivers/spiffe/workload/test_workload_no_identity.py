"""A served volume without a certificate yet answers PERMISSION_DENIED ("no identity issued"), and the
client's retry gets the SVID once it is there.

Such a volume exists after a restart when the pod's mount came before its first certificate (the
engine keeps a mounted volume whatever happened to its issuance).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from grpclib.const import Status
from workload_support import HEADER, OPTED_IN, spiffe_id, status_of, workload_node

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

SPIFFE_OWNER = Owner("spiffe.csi.cert-manager.io")


def _mounted_volume_without_files(base: Path, mounter: FakeMounter) -> None:
    store = Store(data_root=base / "root", mounter=mounter, owner=SPIFFE_OWNER)
    store.open()
    store.write_metadata(Metadata(volume_id="vol-1", target_path="/pods/p/mount", volume_context=OPTED_IN))
    mounter.bind_readonly(store.data_dir("vol-1"), "/pods/p/mount")
    store.close()  # the "previous driver" stops here


async def test_no_identity_then_the_retry_gets_it() -> None:
    base = Path(tempfile.mkdtemp(prefix="wl-", dir="/tmp"))
    mounter = FakeMounter()
    _mounted_volume_without_files(base, mounter)
    try:
        await _no_identity_then_retry(base, mounter)
    finally:
        shutil.rmtree(base)


async def _no_identity_then_retry(base: Path, mounter: FakeMounter) -> None:
    async with workload_node(root=base, mounter=mounter) as node:
        assert list(node.api.volumes) == ["vol-1"], "the mounted volume's socket must serve after a restart"
        stub = node.client("vol-1").stub

        status, message = await status_of(stub.FetchX509SVID(pb.X509SVIDRequest(), metadata=HEADER, timeout=5))
        assert status is Status.PERMISSION_DENIED
        assert message is not None and message.startswith("no identity issued")
        status, message = await status_of(stub.FetchX509Bundles(pb.X509BundlesRequest(), metadata=HEADER, timeout=5))
        assert status is Status.PERMISSION_DENIED
        # Headerless calls are refused for the header first, identity or not.
        status, _ = await status_of(stub.FetchX509SVID(pb.X509SVIDRequest(), timeout=5))
        assert status is Status.INVALID_ARGUMENT

        node.issue("vol-1")
        # What a SPIFFE client does after PERMISSION_DENIED: call again after a backoff.
        response = await node.client("vol-1").first_svid()
        assert [svid.spiffe_id for svid in response.svids] == [spiffe_id("vol-1")]
