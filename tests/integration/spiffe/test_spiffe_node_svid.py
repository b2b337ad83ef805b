"""A pod of an account allowed to create CertificateRequests gets its own SPIFFE X.509 SVID, requested as itself."""

from __future__ import annotations

from cryptography.x509 import DNSName, IPAddress, RFC822Name, SubjectAlternativeName
from cryptography.x509.verification import PolicyBuilder, Store
from spiffe.bundle.x509_bundle.x509_bundle import X509Bundle
from spiffe.spiffe_id.spiffe_id import TrustDomain
from spiffe.svid.x509_svid import X509Svid
from spiffe_node_support import ACCOUNT, NAMESPACE, ca_certificate, leaf, pod_yaml, spiffe_node, uri_sans

SPIFFE_ID = f"spiffe://cluster.local/ns/{NAMESPACE}/sa/{ACCOUNT}"


async def test_the_pod_gets_an_svid_for_its_service_account() -> None:
    async with spiffe_node() as node:
        await node.kubelet.apply(pod_yaml("web", ACCOUNT))
        await node.kubelet.wait_ready(NAMESPACE, "web", timeout=30)
        files = node.files("web")

        assert sorted(files) == ["ca.crt", "tls.crt", "tls.key"]
        assert files["ca.crt"] == ca_certificate(node.cluster)
        assert files["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----")
        cert = leaf(files)
        assert uri_sans(cert) == [SPIFFE_ID]
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName)
        assert san.critical and not list(san.value.get_values_for_type(DNSName))
        assert not san.value.get_values_for_type(IPAddress) and not san.value.get_values_for_type(RFC822Name)
        assert cert.subject.rfc4514_string() == ""

        [request] = node.requests()
        assert request["spec"]["username"] == f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
        assert request["metadata"]["annotations"]["spiffe.csi.cert-manager.io/identity"] == SPIFFE_ID

        # The files are an X.509-SVID as the SPIFFE library reads them, and chain to the mounted bundle.
        svid = X509Svid.parse(files["tls.crt"], files["tls.key"])
        assert str(svid.spiffe_id) == SPIFFE_ID
        bundle = X509Bundle.parse(TrustDomain("cluster.local"), files["ca.crt"])
        verifier = PolicyBuilder().store(Store(list(bundle.x509_authorities))).build_client_verifier()
        verified = verifier.verify(svid.leaf, svid.cert_chain[1:])
        assert [str(name.value) for name in verified.subjects or []] == [SPIFFE_ID]
