"""The physical floor of one issuance, measured in this process on one core.

key + CSR + CA signature + parse + two fsync'd writes (key and certificate) on tmpfs: what any
driver must do per volume, with no RPC, no API server, no event loop. Also whether a thread making
RSA keys leaves an event loop free (OpenSSL's key generation releases the GIL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, PrivateKey, encode_private_key, generate_private_key
from certcsi.pki.signing import create_ca, sign_csr


@dataclass(frozen=True)
class Floor:
    p50_ms: float
    p99_ms: float
    samples: int


def _fsynced(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def one_issuance(
    spec: KeySpec, *, directory: Path, ca: tuple[PrivateKey, x509.Certificate], key: PrivateKey | None
) -> None:
    key = key if key is not None else generate_private_key(spec)
    csr_pem = build_csr(key, CsrSpec(dns_names=("pod-0.bench.svc.cluster.local",)))
    ca_key, ca_cert = ca
    cert = sign_csr(
        ca_key=ca_key,
        ca_cert=ca_cert,
        csr=x509.load_pem_x509_csr(csr_pem),
        duration=timedelta(hours=24),
        usages=("digital signature", "key encipherment"),
        is_ca=False,
    )
    pem = cert.public_bytes(Encoding.PEM)
    x509.load_pem_x509_certificates(pem)  # the driver parses what it got back
    _fsynced(directory / "tls.key", encode_private_key(key, "PKCS8"))
    _fsynced(directory / "tls.crt", pem)


def measure(spec: KeySpec, *, directory: Path, samples: int, premade_keys: bool = False) -> Floor:
    """p50 / p99 of `samples` issuances; `premade_keys`: keys made before the clock starts (a warm pool)."""
    ca = create_ca(common_name="bench floor CA")
    keys = [generate_private_key(spec) for _ in range(samples)] if premade_keys else []
    times: list[float] = []
    for n in range(samples):
        began = time.perf_counter()
        one_issuance(spec, directory=directory, ca=ca, key=keys[n] if keys else None)
        times.append(time.perf_counter() - began)
    times.sort()
    return Floor(
        p50_ms=statistics.median(times) * 1000, p99_ms=times[max(0, int(len(times) * 0.99) - 1)] * 1000, samples=samples
    )


async def loop_lag_with_rsa_thread(seconds: float) -> tuple[float, float, int, int]:
    """While a thread makes RSA-2048 keys beside a 1 ms ticker on the loop: (max lag ms, mean keygen ms,
    keys made, ticks that waited most of a key's time). A GIL held through key generation would stall
    the loop once per key; a busy machine's preemptions stall it now and then, not once per key."""
    stop = threading.Event()
    made: list[float] = []

    def worker() -> None:
        while not stop.is_set():
            began = time.perf_counter()
            generate_private_key(KeySpec("RSA", 2048))
            made.append(time.perf_counter() - began)

    thread = threading.Thread(target=worker, name="bench-rsa")
    thread.start()
    lags: list[float] = []
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - began - 0.001)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
    keygen = statistics.mean(made) if made else float("nan")
    stalled = sum(1 for lag in lags if lag > 0.8 * keygen)
    return max(lags) * 1000, keygen * 1000, len(made), stalled
