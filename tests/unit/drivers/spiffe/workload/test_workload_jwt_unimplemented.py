"""The JWT-SVID profile answers UNIMPLEMENTED saying why; an RPC the API does not define, UNIMPLEMENTED too."""

from __future__ import annotations

import grpc
import pytest
from grpclib.const import Status
from workload_support import HEADER, status_of, workload_node

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb


async def test_jwt_rpcs_say_jwt_svids_are_not_issued_here() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        stub = node.client("vol-1").stub
        outcomes = [
            await status_of(stub.FetchJWTSVID(pb.JWTSVIDRequest(audience=["aud"]), metadata=HEADER, timeout=5)),
            await status_of(stub.ValidateJWTSVID(pb.ValidateJWTSVIDRequest(audience="a", svid="x"), metadata=HEADER)),
            await status_of(stub.FetchJWTBundles(pb.JWTBundlesRequest(), metadata=HEADER, timeout=5)),
        ]
        for status, message in outcomes:
            assert status is Status.UNIMPLEMENTED
            assert message is not None and "JWT-SVIDs are not issued by this driver" in message


async def test_an_unknown_rpc_is_unimplemented() -> None:
    """The experimental WIT-SVID profile, for one, as grpcio-based clients (go-spiffe's peers) see it."""
    async with workload_node() as node:
        node.issue("vol-1")
        async with grpc.aio.insecure_channel(f"unix:{node.socket('vol-1')}") as channel:
            call = channel.unary_stream(
                "/SpiffeWorkloadAPI/FetchWITSVID",
                request_serializer=pb.X509SVIDRequest.SerializeToString,
                response_deserializer=pb.X509SVIDResponse.FromString,
            )(pb.X509SVIDRequest(), metadata=tuple(HEADER.items()), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call.read()
        assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED
