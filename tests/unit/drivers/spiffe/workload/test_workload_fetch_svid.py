"""FetchX509SVID on a volume's socket: its SPIFFE ID, its chain and key in DER, the issuer's CA as the bundle."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import PolicyBuilder, Store
from spiffe.utils.certificate_utils import parse_der_certificates
from workload_support import CA_CERT, TRUST_DOMAIN, spiffe_id, workload_node


async def test_the_volume_gets_its_own_svid_and_bundle() -> None:
    async with workload_node() as node:
        issued = node.issue("vol-1")
        response = await node.client("vol-1").first_svid()

        [svid] = response.svids
        assert svid.spiffe_id == spiffe_id("vol-1") == f"spiffe://{TRUST_DOMAIN}/ns/default/sa/vol-1"
        assert svid.x509_svid == issued.leaf.public_bytes(Encoding.DER)
        assert svid.x509_svid_key == issued.key_der
        # No --source-ca-bundle: the bundle is status.ca of the request, the CA that signed.
        assert parse_der_certificates(svid.bundle) == [CA_CERT]
        anchors = Store(parse_der_certificates(svid.bundle))
        verifier = PolicyBuilder().store(anchors).build_client_verifier()
        verified = verifier.verify(parse_der_certificates(svid.x509_svid)[0], [])
        assert [str(name.value) for name in verified.subjects or []] == [spiffe_id("vol-1")]
        assert not response.federated_bundles and not response.crl


async def test_each_volume_answers_with_its_own_identity_only() -> None:
    async with workload_node() as node:
        node.issue("vol-a")
        node.issue("vol-b")
        a = await node.client("vol-a").first_svid()
        b = await node.client("vol-b").first_svid()
        assert [s.spiffe_id for s in a.svids] == [spiffe_id("vol-a")]
        assert [s.spiffe_id for s in b.svids] == [spiffe_id("vol-b")]
