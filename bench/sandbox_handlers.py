"""The sandbox's own work per request, in-process and without HTTP or TLS: what bench/apiserver.py (c)
measures minus aiohttp and asyncio's TLS.

    .venv/bin/python bench/sandbox_handlers.py [--requests 3000] [--batch 100]

- sign_csr: `pki.signing.sign_csr` of an ECDSA P-256 CSR by an ECDSA P-256 CA (the CSR check included);
- create CertificateRequest / create Event / get Event: `ApiHandler.handle` with a request as aiohttp
  parsed it (admin token, JSON body as the driver sends it);
- approve + issue: the built-in approver's status write, the CA issuer's signing and its status write,
  for one stored request (what happens between the create's 201 and the Issued watch event).

Each figure is the fastest batch of `--batch` (microseconds per call): on a shared machine the fastest
batch is the one least disturbed. Run it for two trees alternately (PYTHONPATH) to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from _common import machine_line
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.pki.signing import create_ca, sign_csr
from certcsi.sandbox.apiserver import policy
from certcsi.sandbox.apiserver.app import API_HANDLER, create_app
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.server import ApiServer
from certcsi.sandbox.certmanager.bootstrap import install_ca_cluster_issuer
from certcsi.sandbox.certmanager.manager import CertManager

NAMESPACE = "bench"
REQUESTS = BY_KEY["cert-manager.io/certificaterequests"]


class _Transport:
    """Enough of a protocol for a request body fed in full before the handler reads it."""

    _reading_paused = False

    def pause_reading(self, **_: Any) -> None:
        pass

    def resume_reading(self, **_: Any) -> None:
        pass


def _csr(index: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName(f"pod-{index}.{NAMESPACE}.svc.cluster.local")])
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).add_extension(san, critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def _pod_uid(index: int) -> str:
    return f"0b1c2d3e-0000-4000-8000-{index:012d}"


def _request_body(index: int, csr: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            "name": f"csi-{index}",
            "namespace": NAMESPACE,
            "labels": {"csi.cert-manager.io/node-id-hash": "0123456789abcdef"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": f"pod-{index}", "uid": _pod_uid(index)}],
        },
        "spec": {
            "request": base64.b64encode(csr).decode(),
            "issuerRef": {"name": "sandbox-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "duration": "24h0m0s",
            "isCA": False,
            "usages": ["digital signature", "key encipherment"],
        },
    }


def _event_body(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"pod-{index}.17f{index:010d}", "namespace": NAMESPACE},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": NAMESPACE, "name": f"pod-{index}"},
        "reason": "CertificateIssued",
        "message": "certificate issued",
        "source": {"component": "csi.cert-manager.io", "host": "node-1"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
        "type": "Normal",
        "reportingComponent": "csi.cert-manager.io",
        "reportingInstance": "node-1",
    }


def _fastest(calls: Sequence[Callable[[], object]], batch: int) -> float:
    """Microseconds per call of the fastest batch."""
    best = float("inf")
    for start in range(0, len(calls), batch):
        chunk = calls[start : start + batch]
        began = time.perf_counter()
        for call in chunk:
            call()
        best = min(best, (time.perf_counter() - began) / len(chunk))
    return best * 1e6


async def _fastest_async(calls: Sequence[Callable[[], Awaitable[object]]], batch: int) -> float:
    best = float("inf")
    for start in range(0, len(calls), batch):
        chunk = calls[start : start + batch]
        began = time.perf_counter()
        for call in chunk:
            await call()
        best = min(best, (time.perf_counter() - began) / len(chunk))
    return best * 1e6


async def main_async(args: argparse.Namespace) -> None:
    count, batch = args.requests, args.batch
    print(machine_line())
    print(f"generating {count} ECDSA P-256 CSRs ...")
    pems = [_csr(i) for i in range(count)]
    csrs = [x509.load_pem_x509_csr(pem) for pem in pems]
    ca_key, ca_cert = create_ca(common_name="bench CA")

    def signing(csr: x509.CertificateSigningRequest) -> Callable[[], object]:
        return lambda: sign_csr(
            ca_key=ca_key,
            ca_cert=ca_cert,
            csr=csr,
            duration=timedelta(hours=24),
            usages=("digital signature", "key encipherment"),
            is_ca=False,
        )

    print(f"  sign_csr                       {_fastest([signing(c) for c in csrs], batch):7.1f} us")

    server = ApiServer()
    store = server.store
    manager = CertManager(store)
    install_ca_cluster_issuer(store)
    store.create(BY_KEY["/namespaces"], {"metadata": {"name": NAMESPACE}})
    policy.bootstrap(store)
    app = create_app(store=store, authority=server.authority, authorizer=server.authorizer)
    handler = app[API_HANDLER]
    loop = asyncio.get_running_loop()
    headers = {
        "Authorization": f"Bearer {server.authority.admin_token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "certcsi-bench",
    }

    def request(method: str, path: str, body: dict[str, Any] | None = None) -> web.Request:
        raw = json.dumps(body).encode() if body is not None else b""
        payload = streams.StreamReader(_Transport(), 2**16, loop=loop)  # type: ignore[arg-type]
        payload.feed_data(raw)
        payload.feed_eof()
        return make_mocked_request(
            method, path, headers={**headers, "Content-Length": str(len(raw))}, payload=payload, app=app
        )

    def handled(req: web.Request, status: int) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            response = await handler.handle(req)
            assert response.status == status, (response.status, getattr(response, "body", b""))
            return response

        return call

    # The sandbox process runs this way too (`sandbox up`): start-up objects frozen, young collections rare.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000)
    creates = [
        handled(request("POST", f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificaterequests", b), 201)
        for b in (_request_body(i, pem) for i, pem in enumerate(pems))
    ]
    # The controllers are not started: each create is only stored, approval and signing come next.
    print(f"  create CertificateRequest      {await _fastest_async(creates, batch):7.1f} us")
    assert manager.approver is not None
    stored = list(store.all_objects(REQUESTS))
    approver = manager.approver

    def approving(obj: dict[str, Any]) -> Callable[[], object]:
        return lambda: approver._on_request("ADDED", obj)  # what its watch calls for a new request

    manager.issuer.start()  # request_changed signs only for a running issuer
    print(f"  approve + issue (two writes)   {_fastest([approving(o) for o in stored], batch):7.1f} us")
    await manager.issuer.stop()
    issued = sum(1 for o in store.all_objects(REQUESTS) if (o.get("status") or {}).get("certificate"))
    events_path = f"/api/v1/namespaces/{NAMESPACE}/events"
    events = [handled(request("POST", events_path, _event_body(i)), 201) for i in range(count)]
    print(f"  create Event                   {await _fastest_async(events, batch):7.1f} us")
    gets = [handled(request("GET", f"{events_path}/pod-{i}.17f{i:010d}"), 200) for i in range(count)]
    print(f"  get Event                      {await _fastest_async(gets, batch):7.1f} us")
    print(f"  ({issued} of {count} requests issued)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
