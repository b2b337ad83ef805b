"""A renewal reaches an open FetchX509SVID stream, on the same stream, as soon as the files are written.

The push follows the issuance's report (nothing polls the files), so the waits below are generous deadlines
for a loaded machine, not the behaviour."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding
from workload_support import eventually, svid_stream, workload_node

PUSHED = 10.0  # seconds: a deadline for the push, not its expected latency


async def test_a_renewal_is_pushed_on_the_open_stream() -> None:
    async with workload_node() as node:
        first = node.issue("vol-1")
        async with svid_stream(node.client("vol-1")) as stream:
            initial = await stream.next()
            assert initial.svids[0].x509_svid == first.leaf.public_bytes(Encoding.DER)

            renewed = node.issue("vol-1")
            pushed = await stream.next(timeout=PUSHED)
            assert pushed.svids[0].x509_svid == renewed.leaf.public_bytes(Encoding.DER)
            assert pushed.svids[0].x509_svid_key == renewed.key_der != first.key_der

            # And again: the same stream keeps following.
            third = node.issue("vol-1")
            assert (await stream.next(timeout=PUSHED)).svids[0].x509_svid == third.leaf.public_bytes(Encoding.DER)
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
            assert (await stream.next(timeout=PUSHED)).svids[0].x509_svid == renewed.leaf.public_bytes(Encoding.DER)
