"""A renewal reaches an open FetchX509SVID stream, on the same stream, within a second of the files being written."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.serialization import Encoding
from workload_support import eventually, svid_stream, workload_node


async def test_a_renewal_is_pushed_on_the_open_stream() -> None:
    async with workload_node() as node:
        first = node.issue("vol-1")
        async with svid_stream(node.client("vol-1")) as stream:
            initial = await stream.next()
            assert initial.svids[0].x509_svid == first.leaf.public_bytes(Encoding.DER)

            renewed = node.issue("vol-1")
            written = time.monotonic()
            pushed = await stream.next(timeout=1.0)
            assert time.monotonic() - written < 1.0
            assert pushed.svids[0].x509_svid == renewed.leaf.public_bytes(Encoding.DER)
            assert pushed.svids[0].x509_svid_key == renewed.key_der != first.key_der

            # And again: the same stream keeps following.
            third = node.issue("vol-1")
            assert (await stream.next(timeout=1.0)).svids[0].x509_svid == third.leaf.public_bytes(Encoding.DER)
        await eventually(lambda: node.api.streams("vol-1") == 0, what="the cancelled stream released")


async def test_a_renewal_of_another_volume_sends_nothing_here() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        node.issue("vol-2")
        async with svid_stream(node.client("vol-1")) as stream:
            await stream.next()
            node.issue("vol-2")
            node.api.files_changed(["vol-2"])
            renewed = node.issue("vol-1")
            # The next message on vol-1's stream is vol-1's renewal: nothing was sent for vol-2.
            assert (await stream.next(timeout=1.0)).svids[0].x509_svid == renewed.leaf.public_bytes(Encoding.DER)
