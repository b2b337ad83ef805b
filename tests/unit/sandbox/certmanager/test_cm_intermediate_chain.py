"""With an intermediate CA in the Secret, status.certificate carries leaf + intermediate and status.ca the root."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from cm_support import (
    CLUSTER_ISSUERS,
    CRS,
    NAMESPACES,
    SECRETS,
    is_ready,
    issued_chain,
    openssl_verify,
    request_body,
    wait_for,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from certcsi.pki.certs import chain_pem
from certcsi.pki.keys import KeySpec, encode_private_key, generate_private_key
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


async def test_intermediate_is_in_the_chain_and_the_root_is_the_ca(store: Store, tmp_path: Path) -> None:
    root_key, root = create_ca(common_name="root")
    inter_key = generate_private_key(KeySpec("ECDSA"))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intermediate")]))
        .sign(inter_key, hashes.SHA256())
    )
    inter = sign_csr(
        ca_key=root_key,
        ca_cert=root,
        csr=csr,
        duration=timedelta(days=30),
        usages=["cert sign", "digital signature"],
        is_ca=True,
    )
    store.create(NAMESPACES, {"metadata": {"name": "cert-manager"}})
    store.create(
        SECRETS,
        {
            "metadata": {"name": "inter", "namespace": "cert-manager"},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(chain_pem([inter, root])).decode(),
                "tls.key": base64.b64encode(encode_private_key(inter_key, "PKCS8")).decode(),
            },
        },
    )
    store.create(CLUSTER_ISSUERS, {"metadata": {"name": "inter"}, "spec": {"ca": {"secretName": "inter"}}})
    manager = CertManager(store)
    manager.start()
    try:
        store.create(CRS, request_body(issuer="inter"))
        cr = await wait_for(store, "team", "req", is_ready)
    finally:
        await manager.stop()
    chain = issued_chain(cr)
    assert [c.subject.rfc4514_string() for c in chain[1:]] == ["CN=intermediate"]
    assert x509.load_pem_x509_certificate(base64.b64decode(cr["status"]["ca"])) == root
    result = openssl_verify(tmp_path, cr)
    assert result.returncode == 0, result.stderr
