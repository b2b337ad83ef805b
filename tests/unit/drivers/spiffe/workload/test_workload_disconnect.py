"""A client that disconnects mid-stream (cancels, or drops the connection) leaves nothing behind."""

from __future__ import annotations

import asyncio
import socket

from workload_support import HEADER, eventually, svid_stream, workload_node

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb


async def test_cancelled_and_dropped_streams_release_everything() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        endpoint = node.api.volumes["vol-1"]

        client = node.client("vol-1")
        async with svid_stream(client) as stream:  # cancelled (RST_STREAM) on the way out
            await stream.next()
        await eventually(lambda: node.api.streams("vol-1") == 0, what="the cancelled stream released")

        dropped = node.client("vol-1")
        opened = dropped.stub.FetchX509SVID.open(metadata=HEADER)
        stream = await opened.__aenter__()
        await stream.send_message(pb.X509SVIDRequest(), end=True)
        assert await stream.recv_message() is not None
        dropped.close()  # the whole connection goes, mid-stream
        await eventually(lambda: node.api.streams("vol-1") == 0, what="the dropped stream released")
        client.close()
        await eventually(lambda: endpoint.connections == 0, what="connections released")

        # A raw client that connects, writes half a preface and vanishes.
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(node.socket("vol-1")))
        raw.sendall(b"PRI * HTTP/2.0\r\n")
        await eventually(lambda: endpoint.connections == 1, what="the raw connection accepted")
        raw.close()
        await eventually(lambda: endpoint.connections == 0, what="the raw connection released")

        # Renewals keep working for whoever comes next.
        await asyncio.sleep(0)
        node.issue("vol-1")
        assert (await node.client("vol-1").first_svid()).svids
