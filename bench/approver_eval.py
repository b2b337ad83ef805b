"""Micro-benchmark of the approver's evaluator: evaluations per second, no Kubernetes involved.

    .venv/bin/python bench/approver_eval.py [--requests 1000] [--rounds 5]

Requests are what the driver sends (ECDSA P-256, one URI SAN), one per service account; a quarter
are made with another account's token so the denial path is timed too. Prints numbers only: the
floor for the whole approver lives in bench/approver.py.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.approver import IDENTITY_ANNOTATION, REQUIRED_USAGES, Policy, evaluate

TRUST_DOMAIN = "cluster.local"


def _request(index: int, *, forged: bool) -> dict[str, Any]:
    namespace, account = f"ns-{index % 50}", f"sa-{index}"
    uri = f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{account}"
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=True)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    requester = f"{account}-other" if forged else account
    return {
        "metadata": {"name": f"csi-{index}", "namespace": namespace, "annotations": {IDENTITY_ANNOTATION: uri}},
        "spec": {
            "request": base64.b64encode(csr.public_bytes(Encoding.PEM)).decode("ascii"),
            "duration": "1h0m0s",
            "isCA": False,
            "usages": list(REQUIRED_USAGES),
            "username": f"system:serviceaccount:{namespace}:{requester}",
            "issuerRef": {"name": "spiffe-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="distinct requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    policy = Policy(trust_domain=TRUST_DOMAIN)
    requests = [_request(i, forged=i % 4 == 0) for i in range(args.requests)]
    rates: list[float] = []
    approved = 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        verdicts = [evaluate(request, policy) for request in requests]
        rates.append(len(requests) / (time.perf_counter() - start))
        approved = sum(1 for v in verdicts if v.approved)
    print(f"requests per round: {len(requests)} ({approved} approved, {len(requests) - approved} denied)")
    print(f"evaluations per second: median {statistics.median(rates):,.0f}, best {max(rates):,.0f}")
    print(f"mean latency per evaluation: {1e6 / statistics.median(rates):,.1f} µs")


if __name__ == "__main__":
    main()
