"""FetchX509Bundles: the bundle keyed by the trust domain's SPIFFE ID, pushed when the CA bundle changes only."""

from __future__ import annotations

import asyncio

import pytest
from spiffe.utils.certificate_utils import parse_der_certificates
from workload_support import CA_CERT, TRUST_DOMAIN, svid_stream, workload_node

from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca
from certcsi.volumes.rewrite import rewrite_file

OPERATOR_CA = create_ca(common_name="operator's trust anchor")[1]
NEXT_CA = create_ca(common_name="the next trust anchor")[1]


async def test_bundles_are_keyed_by_the_trust_domains_spiffe_id() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        async with svid_stream(node.client("vol-1"), bundles=True) as stream:
            first = await stream.next()
        assert list(first.bundles) == [f"spiffe://{TRUST_DOMAIN}"]
        assert parse_der_certificates(first.bundles[f"spiffe://{TRUST_DOMAIN}"]) == [CA_CERT]


async def test_a_renewal_with_the_same_bundle_sends_no_bundle_update() -> None:
    async with workload_node() as node:
        node.issue("vol-1")
        async with svid_stream(node.client("vol-1"), bundles=True) as stream:
            await stream.next()
            node.issue("vol-1")
            with pytest.raises(TimeoutError):
                await stream.next(timeout=0.3)


async def test_a_new_ca_bundle_reaches_both_streams() -> None:
    """What the --source-ca-bundle watcher does: rewrite ca.crt in every volume, then say which."""
    async with workload_node() as node:
        node.issue("vol-1", ca_file=certificate_pem(OPERATOR_CA))
        client = node.client("vol-1")
        async with svid_stream(client, bundles=True) as bundles, svid_stream(client) as svids:
            assert parse_der_certificates((await bundles.next()).bundles[f"spiffe://{TRUST_DOMAIN}"]) == [OPERATOR_CA]
            assert parse_der_certificates((await svids.next()).svids[0].bundle) == [OPERATOR_CA]

            report = rewrite_file(
                node.store, name="ca.crt", content=certificate_pem(NEXT_CA), fs_group=lambda volume: None
            )
            node.api.files_changed(report.rewritten)
            pushed_bundles, pushed_svids = await asyncio.gather(bundles.next(timeout=1), svids.next(timeout=1))
            assert parse_der_certificates(pushed_bundles.bundles[f"spiffe://{TRUST_DOMAIN}"]) == [NEXT_CA]
            assert parse_der_certificates(pushed_svids.svids[0].bundle) == [NEXT_CA]
