"""Builders for the approver tests: a CertificateRequest that passes every rule, and ways to break one."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.approver import IDENTITY_ANNOTATION, Policy, Verdict
from certcsi.pki.keys import PrivateKey, signature_hash
from certcsi.volumes.driver import IssuerRef

TD = "cluster.local"
NS = "sandbox"
SA = "app"
POD = "app-7d9c"
USERNAME = f"system:serviceaccount:{NS}:{SA}"
SPIFFE_ID = f"spiffe://{TD}/ns/{NS}/sa/{SA}"
DRIVER_SA = "system:serviceaccount:cert-manager:csi-driver-spiffe"
SPIFFE_ISSUER = IssuerRef(name="spiffe-ca", kind="ClusterIssuer", group="cert-manager.io")
USAGES = ["key encipherment", "digital signature", "client auth", "server auth"]

POLICY = Policy(trust_domain=TD, certificate_duration=timedelta(hours=1), issuer_ref=SPIFFE_ISSUER)
OWN_SA_POLICY = Policy(trust_domain=TD, issuer_ref=SPIFFE_ISSUER, own_service_account=DRIVER_SA)

KEY: PrivateKey = ec.generate_private_key(ec.SECP256R1())

Extension = tuple[x509.ExtensionType, bool]


def san(*names: x509.GeneralName) -> Extension:
    return x509.SubjectAlternativeName(list(names)), True


def uri_san(*uris: str) -> Extension:
    return san(*(x509.UniformResourceIdentifier(u) for u in uris))


def csr_pem(
    *,
    key: PrivateKey = KEY,
    subject: x509.Name | None = None,
    extensions: Iterable[Extension] | None = None,
) -> bytes:
    """A PEM CSR; by default exactly what the driver sends (empty subject, one critical URI SAN)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject or x509.Name([]))
    for extension, critical in extensions if extensions is not None else [uri_san(SPIFFE_ID)]:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, signature_hash(key)).public_bytes(Encoding.PEM)


def tampered(pem: bytes) -> bytes:
    """`pem` with one bit of its signature flipped (the last DER byte belongs to the signature)."""
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(Encoding.DER))
    der[-1] ^= 0x01
    return x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_request(csr: bytes | None = None, **spec: Any) -> dict[str, Any]:
    """A CertificateRequest as the API server returns it after cert-manager's webhook set spec.username."""
    body: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            "name": "csi-abc",
            "namespace": NS,
            "annotations": {IDENTITY_ANNOTATION: SPIFFE_ID},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": POD, "uid": "pod-uid"}],
        },
        "spec": {
            "request": b64(csr if csr is not None else csr_pem()),
            "duration": "1h0m0s",
            "isCA": False,
            "usages": list(USAGES),
            "username": USERNAME,
            "issuerRef": {"name": SPIFFE_ISSUER.name, "kind": SPIFFE_ISSUER.kind, "group": SPIFFE_ISSUER.group},
        },
    }
    body["spec"].update(spec)
    return body


def without(request: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `request` with the field at `path` removed."""
    out = copy.deepcopy(request)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def assert_approved(verdict: Verdict) -> None:
    assert verdict.approved is True, verdict
    assert verdict.reason == "Approved request"


def assert_denied(verdict: Verdict, rule: str, *fragments: str) -> None:
    assert verdict.approved is False, verdict
    assert verdict.rule == rule, verdict
    assert verdict.reason.startswith(f"Denied request: {rule}: "), verdict.reason
    for fragment in fragments:
        assert fragment in verdict.reason, verdict.reason


def owner_pods(*names: str) -> Sequence[dict[str, str]]:
    return [{"apiVersion": "v1", "kind": "Pod", "name": n, "uid": f"uid-{n}"} for n in names]
