"""Helpers for the cert-manager stand-in tests: CSRs, CertificateRequest bodies, waiting on the Store."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store

CRS = BY_KEY["cert-manager.io/certificaterequests"]
ISSUERS = BY_KEY["cert-manager.io/issuers"]
CLUSTER_ISSUERS = BY_KEY["cert-manager.io/clusterissuers"]
SECRETS = BY_KEY["/secrets"]
NAMESPACES = BY_KEY["/namespaces"]

Obj = dict[str, Any]


def csr_pem(
    *,
    key: PrivateKey | None = None,
    common_name: str | None = None,
    dns_names: tuple[str, ...] = ("app.example.com",),
    uris: tuple[str, ...] = (),
    usages: tuple[str, ...] = (),
    is_ca: bool = False,
) -> bytes:
    key = key if key is not None else generate_private_key(KeySpec("ECDSA"))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) if common_name else x509.Name([])
    return build_csr(key, CsrSpec(subject=subject, dns_names=dns_names, uris=uris, usages=usages, is_ca=is_ca))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def request_body(
    name: str = "req",
    *,
    namespace: str = "team",
    issuer: str = "sandbox-ca",
    kind: str | None = "ClusterIssuer",
    csr: bytes | None = None,
    **spec: Any,
) -> Obj:
    ref: Obj = {"name": issuer}
    if kind is not None:
        ref["kind"] = kind
    body: Obj = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"request": b64(csr if csr is not None else csr_pem()), "issuerRef": ref, **spec},
    }
    return body


def condition(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


async def wait_for(
    store: Store, namespace: str, name: str, predicate: Callable[[Obj], bool], *, within: float = 5.0
) -> Obj:
    """The request once `predicate` holds; fails the test after `within` seconds."""

    async def poll() -> Obj:
        while True:
            obj = store.find(CRS, namespace, name)
            if obj is not None and predicate(obj):
                return obj
            await asyncio.sleep(0.005)

    return await asyncio.wait_for(poll(), within)


def is_ready(obj: Obj) -> bool:
    c = condition(obj, "Ready")
    return c is not None and c["status"] == "True"


def ready_reason_is(reason: str) -> Callable[[Obj], bool]:
    def check(obj: Obj) -> bool:
        c = condition(obj, "Ready")
        return c is not None and c.get("reason") == reason

    return check


async def settle(rounds: int = 20) -> None:
    """Let every controller task drain what is queued."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def issued_chain(obj: Obj) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(obj["status"]["certificate"]))


def openssl_verify(tmp_path: Path, obj: Obj) -> subprocess.CompletedProcess[str]:
    """`openssl verify` of status.certificate (leaf + chain) against status.ca."""
    chain = base64.b64decode(obj["status"]["certificate"])
    certs = x509.load_pem_x509_certificates(chain)
    ca = tmp_path / "ca.pem"
    leaf = tmp_path / "leaf.pem"
    untrusted = tmp_path / "untrusted.pem"
    ca.write_bytes(base64.b64decode(obj["status"]["ca"]))
    leaf.write_bytes(certs[0].public_bytes(Encoding.PEM))
    args = ["openssl", "verify", "-CAfile", str(ca)]
    if len(certs) > 1:
        untrusted.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs[1:]))
        args += ["-untrusted", str(untrusted)]
    return subprocess.run([*args, str(leaf)], capture_output=True, text=True, check=False)
