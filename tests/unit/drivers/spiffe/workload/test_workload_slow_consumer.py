"""A client that never reads: its stream is ended (UNAVAILABLE) after the send timeout and frees its slot;
meanwhile other volumes' streams get their renewals, without waiting for that.

The slow client is raw HTTP/2 (h2) with a 16-byte flow-control window it never opens further, so the
server cannot finish even its first message: exactly what a client that stopped reading looks like.
"""

from __future__ import annotations

import asyncio

import h2.config
import h2.connection
import h2.events
import h2.settings
from cryptography.hazmat.primitives.serialization import Encoding
from workload_support import eventually, svid_stream, workload_node

from certcsi.drivers.spiffe.workload.listening import Limits

# Deadlines for events on a loaded machine, not the latencies under test.
DEADLINE = 10.0
STUCK_FOR_GOOD = 120.0


async def _stuck_client(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, h2.connection.H2Connection]:
    reader, writer = await asyncio.open_unix_connection(path)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/SpiffeWorkloadAPI/FetchX509SVID"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("workload.spiffe.io", "true"),
        ],
    )
    conn.send_data(stream_id, b"\x00\x00\x00\x00\x00", end_stream=True)  # one empty X509SVIDRequest
    writer.write(conn.data_to_send())
    await writer.drain()
    return reader, writer, conn


async def test_a_client_that_never_reads_blocks_nobody() -> None:
    # A send timeout no test step comes near: "slow" stays stuck throughout, so every push "busy" gets
    # below happened while a send to "slow" was blocked, not after that send was given up.
    async with workload_node(limits=Limits(send_timeout=STUCK_FOR_GOOD)) as node:
        node.issue("slow")
        node.issue("busy")
        _, writer, _ = await _stuck_client(str(node.socket("slow")))
        try:
            await eventually(lambda: node.api.streams("slow") == 1, what="the slow stream opened")
            async with svid_stream(node.client("busy")) as busy:
                await busy.next()
                for _ in range(3):  # renewals elsewhere are pushed while "slow" is stuck
                    renewed = node.issue("busy").leaf.public_bytes(Encoding.DER)
                    assert (await busy.next(timeout=DEADLINE)).svids[0].x509_svid == renewed
                node.issue("slow")  # coalesced behind the stuck send: nothing queues up
            assert node.api.streams("slow") == 1, "the stuck stream ended: the pushes above prove nothing"
        finally:
            writer.close()
        await eventually(lambda: node.api.volumes["slow"].connections == 0, what="the connection released")


async def test_a_client_that_never_reads_is_cut_off_after_the_send_timeout() -> None:
    async with workload_node(limits=Limits(send_timeout=0.5)) as node:
        node.issue("slow")
        reader, writer, conn = await _stuck_client(str(node.socket("slow")))
        try:
            await eventually(lambda: node.api.streams("slow") == 1, what="the slow stream opened")
            await eventually(lambda: node.api.streams("slow") == 0, timeout=DEADLINE, what="the stuck stream ended")

            # What the client finds once it does read: the end of its stream, UNAVAILABLE, and why.
            ended = await _read_until_stream_ends(reader, conn)
            assert ended.get("grpc-status") == "14"
            assert "did not read the last update within 0.5s" in ended.get("grpc-message", "").replace("%20", " ")
        finally:
            writer.close()
        await eventually(lambda: node.api.volumes["slow"].connections == 0, what="the connection released")


async def _read_until_stream_ends(reader: asyncio.StreamReader, conn: h2.connection.H2Connection) -> dict[str, str]:
    async with asyncio.timeout(5):
        while True:
            data = await reader.read(65536)
            assert data, "connection closed before the stream ended"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.TrailersReceived):
                    return {str(k): str(v) for k, v in event.headers}
                if isinstance(event, h2.events.StreamReset):
                    return {"reset": str(event.error_code)}
