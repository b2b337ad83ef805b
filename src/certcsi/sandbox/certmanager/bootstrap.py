"""Creating the sandbox's CA: a `kubernetes.io/tls` Secret holding a fresh CA and a ClusterIssuer using it."""

from __future__ import annotations

import base64

from cryptography import x509

from certcsi.pki.certs import certificate_pem
from certcsi.pki.keys import PrivateKey, encode_private_key
from certcsi.pki.signing import create_ca
from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER
from certcsi.sandbox.apiserver.storage import Store

_NAMESPACES = BY_KEY["/namespaces"]
_SECRETS = BY_KEY["/secrets"]
_CLUSTER_ISSUERS = BY_KEY[f"{CERT_MANAGER}/clusterissuers"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def install_ca_cluster_issuer(
    store: Store,
    *,
    name: str = "sandbox-ca",
    namespace: str = "cert-manager",
    common_name: str = "certcsi sandbox CA",
) -> tuple[PrivateKey, x509.Certificate]:
    """Create (if needed) `namespace`, then Secret `namespace/name` with a new self-signed CA and
    ClusterIssuer `name` whose `spec.ca.secretName` points at it. `namespace` must be the
    CertManager's cluster resource namespace. Raises the Store's 409 if either already exists.
    """
    if store.find(_NAMESPACES, None, namespace) is None:
        store.create(_NAMESPACES, {"metadata": {"name": namespace}})
    key, cert = create_ca(common_name=common_name)
    cert_pem = certificate_pem(cert)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": _b64(cert_pem),
            "tls.key": _b64(encode_private_key(key, "PKCS8")),
            "ca.crt": _b64(cert_pem),
        },
    }
    store.create(_SECRETS, secret, namespace=namespace)
    issuer = {
        "apiVersion": f"{CERT_MANAGER}/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {"ca": {"secretName": name}},
    }
    store.create(_CLUSTER_ISSUERS, issuer)
    return key, cert
