"""Without `workload.spiffe.io: true` every RPC is INVALID_ARGUMENT, before anything else is looked at."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from workload_support import WorkloadClient, status_of, workload_node

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb

CALLS = {
    "FetchX509SVID": pb.X509SVIDRequest(),
    "FetchX509Bundles": pb.X509BundlesRequest(),
    "FetchJWTSVID": pb.JWTSVIDRequest(audience=["a"]),
    "FetchJWTBundles": pb.JWTBundlesRequest(),
    "ValidateJWTSVID": pb.ValidateJWTSVIDRequest(audience="a", svid="x.y.z"),
}


async def _call(client: WorkloadClient, rpc: str, metadata: dict[str, str]) -> None:
    async with getattr(client.stub, rpc).open(metadata=metadata, timeout=5) as stream:
        await stream.send_message(CALLS[rpc], end=True)
        await stream.recv_message()


@pytest.mark.parametrize("metadata", [{}, {"workload.spiffe.io": "True"}, {"workload.spiffe.io": "yes"}])
async def test_every_rpc_needs_the_header(metadata: dict[str, str]) -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        client = node.client("vol-1")
        for rpc in CALLS:
            status, message = await status_of(_call(client, rpc, metadata))
            assert status is Status.INVALID_ARGUMENT, rpc
            assert message is not None and "workload.spiffe.io: true is required" in message
        assert node.api.streams("vol-1") == 0

