"""Several streams on one volume each get every update; past the volume's limit a stream gets UNAVAILABLE
and a connection is closed at once; nothing of a closed one stays behind."""

from __future__ import annotations

import asyncio
import contextlib

from cryptography.hazmat.primitives.serialization import Encoding
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from workload_support import HEADER, eventually, status_of, svid_stream, workload_node

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.drivers.spiffe.workload.listening import Limits


async def test_two_streams_of_one_volume_both_follow_renewals() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        async with svid_stream(node.client("vol-1")) as one, svid_stream(node.client("vol-1")) as two:
            await asyncio.gather(one.next(), two.next())
            assert node.api.streams("vol-1") == 2
            renewed = node.issue("vol-1").leaf.public_bytes(Encoding.DER)
            a, b = await asyncio.gather(one.next(timeout=1), two.next(timeout=1))
            assert a.svids[0].x509_svid == b.svids[0].x509_svid == renewed
        await eventually(lambda: node.api.streams("vol-1") == 0, what="both streams released")


async def test_a_stream_past_the_limit_is_unavailable_and_the_others_carry_on() -> None:
    async with workload_node(limits=Limits(streams=2)) as node:
        node.issue("vol-1")
        client = node.client("vol-1")
        async with svid_stream(client) as one, svid_stream(client) as two:
            await asyncio.gather(one.next(), two.next())
            status, message = await status_of(
                client.stub.FetchX509SVID(pb.X509SVIDRequest(), metadata=HEADER, timeout=5)
            )
            assert status is Status.UNAVAILABLE
            assert message is not None and "2 open Workload API streams" in message
            renewed = node.issue("vol-1").leaf.public_bytes(Encoding.DER)
            assert (await one.next(timeout=1)).svids[0].x509_svid == renewed
        await eventually(lambda: node.api.streams("vol-1") == 0, what="streams released")
        # Slots freed: a new stream is served again.
        assert (await node.client("vol-1").first_svid()).svids


async def test_a_connection_past_the_limit_is_closed_and_costs_nothing() -> None:
    async with workload_node(limits=Limits(connections=2)) as node:
        node.issue("vol-1")
        endpoint = node.api.volumes["vol-1"]
        first, second = node.client("vol-1"), node.client("vol-1")
        async with svid_stream(first) as one, svid_stream(second) as two:
            await asyncio.gather(one.next(), two.next())
            assert endpoint.connections == 2
            third = node.client("vol-1")
            with contextlib.suppress(GRPCError, StreamTerminatedError, ConnectionError, OSError):
                await third.first_svid(timeout=2)
                raise AssertionError("a third connection was served")
            third.close()
            assert endpoint.connections == 2
        for client in (first, second):
            client.close()
        await eventually(lambda: endpoint.connections == 0, what="connections released")
        assert (await node.client("vol-1").first_svid()).svids
