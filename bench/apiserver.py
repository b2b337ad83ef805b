"""Sandbox API server benchmark: create-to-Issued throughput, watch delivery latency, CPU per request.

    .venv/bin/python bench/apiserver.py [--requests 1000] [--concurrency 50]
                                        [--watchers 100] [--writes 200] [--interval-ms 10] [--in-process]
                                        [--lifecycle-volumes 1000] [--lifecycle-concurrency 50] [--profile FILE]

(a) throughput: N CertificateRequests (ECDSA P-256 CSRs made before the clock starts) are created over
    HTTPS with certcsi.kube (its aiohttp transport, plain dicts) by `--concurrency` workers, with
    cert-manager's built-in approver on; one label-filtered watch sees each become Ready=True reason
    Issued. Timed from the first create to the moment the N-th request is seen Issued.
(b) watch latency: `--watchers` concurrent watches (each its own HTTP connection) on one ConfigMap;
    then `--writes` merge-patches, one every `--interval-ms`, each stamped with its send time; every
    watcher records receipt time minus send time. p50 / p99 / max over all deliveries.
(c) lifecycle: `--lifecycle-volumes` driver-shaped CertificateRequests at `--lifecycle-concurrency`,
    each created with its pod's bound token, awaited on the node's label-filtered watch (as the
    driver's ServiceAccount) and deleted as unpublish does (see _lifecycle.py); the sandbox's CPU
    (utime + stime from /proc/<pid>/stat) per volume. `--profile FILE` records the sandbox with
    py-spy meanwhile (raw collapsed stacks; the CPU figure of such a run includes py-spy's reads).

The sandbox runs as its own process (`certcsi sandbox up`) unless --in-process: see bench/README.md.
Prints numbers and the issue-2 and issue-11 floors next to them; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    MERGE_PATCH,
    SandboxProcess,
    api_client,
    call,
    create_namespace,
    git_describe,
    heading,
    latency_summary,
    machine_line,
    percentile,
    report,
    sandbox,
    send,
)
from _lifecycle import measure_lifecycle, py_spy
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from kubernetes_asyncio.client import ApiClient

from certcsi.kube import Kube, connect

THROUGHPUT_NAMESPACE = "bench-throughput"
WATCH_NAMESPACE = "bench-watch"
RUN_LABEL = "bench.certcsi.io/run"
SENT = "bench.certcsi.io/sent"
SEQUENCE = "bench.certcsi.io/seq"
PROBE = "probe"
WARMUP = "warmup"

FLOOR_REQUESTS = 1000
FLOOR_SECONDS = 5.0
FLOOR_WATCHERS = 100
FLOOR_P99 = 0.050
FLOOR_CPU_MS = 2.0  # issue 11: sandbox CPU per ECDSA volume


def csr_pem(index: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"bench-{index}.{THROUGHPUT_NAMESPACE}.svc.cluster.local"
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(Encoding.PEM)


def request_body(*, index: int, csr: bytes, run: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": f"bench-{index}", "labels": {RUN_LABEL: run}},
        "spec": {
            "request": base64.b64encode(csr).decode("ascii"),
            "issuerRef": {"name": "sandbox-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "duration": "24h0m0s",
            "usages": ["digital signature", "key encipherment", "server auth"],
        },
    }


def ready_reason(obj: dict[str, Any]) -> tuple[str, str] | None:
    """(status, reason) of the Ready condition, when there is one."""
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return str(condition.get("status")), str(condition.get("reason"))
    return None


@dataclass(frozen=True)
class Throughput:
    creates_done: float  # seconds from the first create until the last create returned
    all_issued: float  # seconds from the first create until the N-th request was seen Issued
    failed: int


async def _observe(kube: Kube, *, run: str, count: int, synced: asyncio.Event, clock: list[float]) -> int:
    """Watch this run's requests until `count` are Issued; appends the finish time; returns failures."""
    issued: set[str] = set()
    failed: set[str] = set()
    async for event in kube.watch_certificate_requests(f"{RUN_LABEL}={run}"):
        if event.type == "SYNCED":
            synced.set()
            continue
        state = ready_reason(event.object)
        name = event.object["metadata"]["name"]
        if state == ("True", "Issued"):
            issued.add(name)
        elif state is not None and state[0] == "False" and state[1] in ("Denied", "Failed"):
            failed.add(name)
        if len(issued) + len(failed) >= count:
            clock.append(time.perf_counter())
            return len(failed)
    raise AssertionError("unreachable: the watch never ends by itself")


async def measure_throughput(kubeconfig: Path, *, count: int, concurrency: int) -> Throughput:
    print(f"  generating {count} ECDSA P-256 CSRs (before the clock starts) ...", flush=True)
    run = uuid.uuid4().hex[:10]
    bodies = [request_body(index=i, csr=csr_pem(i), run=run) for i in range(count)]
    api = await api_client(kubeconfig)
    try:
        await create_namespace(api, THROUGHPUT_NAMESPACE)
    finally:
        await api.close()
    # qps 0: no client-side budget; this measures the server, not our own limiter.
    async with await connect(kubeconfig=str(kubeconfig), qps=0, burst=1) as kube:
        synced = asyncio.Event()
        finish: list[float] = []
        observer = asyncio.create_task(_observe(kube, run=run, count=count, synced=synced, clock=finish))
        await asyncio.wait_for(synced.wait(), 30)
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                await kube.create_certificate_request(THROUGHPUT_NAMESPACE, body)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        creates_done = time.perf_counter() - start
        failed = await asyncio.wait_for(observer, 120)
    return Throughput(creates_done=creates_done, all_issued=finish[0] - start, failed=failed)


class Deliveries:
    """Receipt-minus-send times of every watcher, and who has seen the warm-up."""

    def __init__(self, *, watchers: int, expected: int) -> None:
        self.latencies: list[float] = []
        self.warm: set[int] = set()
        self.all_warm = asyncio.Event()
        self.all_delivered = asyncio.Event()
        self.watchers = watchers
        self.expected = expected
        self.per_watcher = [0] * watchers

    def record(self, watcher: int, received: float, annotations: dict[str, str]) -> None:
        sent = annotations.get(SENT, "")
        if sent.startswith(WARMUP):
            self.warm.add(watcher)
            if len(self.warm) == self.watchers:
                self.all_warm.set()
            return
        self.latencies.append(received - float(sent))
        self.per_watcher[watcher] += 1
        if len(self.latencies) >= self.expected:
            self.all_delivered.set()


async def _watcher(api: ApiClient, *, index: int, version: str, deliveries: Deliveries) -> None:
    response = await send(
        api,
        "GET",
        f"/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps",
        query=[
            ("watch", "true"),
            ("resourceVersion", version),
            ("fieldSelector", f"metadata.name={PROBE}"),
            ("timeoutSeconds", "3600"),
        ],
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    )
    try:
        async for line in response.content:
            received = time.perf_counter()  # before decoding: JSON work of 100 watchers is not delivery
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "MODIFIED":
                deliveries.record(index, received, event["object"]["metadata"].get("annotations") or {})
    finally:
        response.close()


async def _patch(api: ApiClient, *, sent: str, seq: int) -> None:
    body = {"metadata": {"annotations": {SENT: sent, SEQUENCE: str(seq)}}}
    await call(
        api, "PATCH", f"/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps/{PROBE}", body=body, content_type=MERGE_PATCH
    )


@dataclass(frozen=True)
class WatchResult:
    latencies: Sequence[float]
    write_latencies: Sequence[float]
    expected: int
    write_seconds: float
    least_per_watcher: int


async def measure_watch(kubeconfig: Path, *, watchers: int, writes: int, interval: float) -> WatchResult:
    # One socket per watcher, plus a few for the writer.
    api = await api_client(kubeconfig, connections=watchers + 10)
    try:
        await create_namespace(api, WATCH_NAMESPACE)
        created = await call(
            api, "POST", f"/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps",
            body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": PROBE}, "data": {}},
        )  # fmt: skip
        version = created["metadata"]["resourceVersion"]
        expected = writes * watchers
        deliveries = Deliveries(watchers=watchers, expected=expected)
        tasks = [
            asyncio.create_task(_watcher(api, index=i, version=version, deliveries=deliveries)) for i in range(watchers)
        ]
        # Warm up until every watcher has an open stream and has received one event.
        attempt = 0
        while not deliveries.all_warm.is_set():
            await _patch(api, sent=f"{WARMUP}-{attempt}", seq=-1)
            attempt += 1
            with_timeout = asyncio.wait_for(deliveries.all_warm.wait(), 0.2)
            try:
                await with_timeout
            except TimeoutError:
                if attempt > 150:
                    raise RuntimeError(f"only {len(deliveries.warm)} of {watchers} watches came up") from None
        await asyncio.sleep(0.5)
        write_latencies: list[float] = []
        start = time.perf_counter()
        for seq in range(writes):
            delay = start + seq * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            await _patch(api, sent=repr(sent), seq=seq)
            write_latencies.append(time.perf_counter() - sent)
        write_seconds = time.perf_counter() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(deliveries.all_delivered.wait(), 10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await api.close()
    return WatchResult(
        latencies=list(deliveries.latencies),
        write_latencies=write_latencies,
        expected=expected,
        write_seconds=write_seconds,
        least_per_watcher=min(deliveries.per_watcher),
    )


async def main_async(args: argparse.Namespace) -> None:
    print(f"certcsi bench/apiserver.py @ {git_describe()}; {machine_line()}")
    where = "in this process" if args.in_process else "its own process (certcsi sandbox up)"
    print(f"sandbox: {where}; client and watchers: this process")
    with tempfile.TemporaryDirectory(prefix="certcsi-bench-api-") as tmp:
        async with sandbox(workdir=Path(tmp), in_process=args.in_process) as cluster:
            if not args.skip_throughput:
                heading(f"(a) create-to-Issued: {args.requests} CertificateRequests, concurrency {args.concurrency}")
                result = await measure_throughput(cluster.kubeconfig, count=args.requests, concurrency=args.concurrency)
                report("all creates answered", f"{result.creates_done:.2f} s")
                met = result.all_issued < FLOOR_SECONDS and not result.failed
                report(
                    f"{args.requests} created+approved+issued",
                    f"{result.all_issued:.2f} s ({args.requests / result.all_issued:.0f} requests/s)",
                    floor=f"{FLOOR_REQUESTS} in < {FLOOR_SECONDS:g} s",
                    met=met,
                    comparable=args.requests >= FLOOR_REQUESTS,
                )
                if result.failed:
                    report("denied or failed", str(result.failed))
            if not args.skip_watch:
                heading(
                    f"(b) watch delivery: {args.watchers} watchers, {args.writes} ConfigMap writes "
                    f"every {args.interval_ms:g} ms"
                )
                watch = await measure_watch(
                    cluster.kubeconfig, watchers=args.watchers, writes=args.writes, interval=args.interval_ms / 1000
                )
                report(
                    "writes", f"{args.writes} in {watch.write_seconds:.2f} s; {latency_summary(watch.write_latencies)}"
                )
                got = len(watch.latencies)
                report("deliveries", f"{got} of {watch.expected} (fewest to one watcher: {watch.least_per_watcher})")
                p99 = percentile(watch.latencies, 0.99) if watch.latencies else float("inf")
                report(
                    "delivery latency",
                    latency_summary(watch.latencies),
                    floor=f"p99 < {FLOOR_P99 * 1000:g} ms with {FLOOR_WATCHERS} watchers",
                    met=p99 < FLOOR_P99 and got == watch.expected,
                    comparable=args.watchers >= FLOOR_WATCHERS,
                )
            if not args.skip_lifecycle:
                await lifecycle_section(args, cluster)


async def lifecycle_section(args: argparse.Namespace, cluster: SandboxProcess) -> None:
    heading(
        f"(c) lifecycle: {args.lifecycle_volumes} driver-shaped ECDSA requests at concurrency "
        f"{args.lifecycle_concurrency} (pod token create, node watch, delete)"
    )
    if cluster.pid is None:
        report("sandbox CPU per volume", "not measured: --in-process shares this process's CPU")
        return
    result = await measure_lifecycle(
        cluster.kubeconfig,
        pid=cluster.pid,
        count=args.lifecycle_volumes,
        concurrency=args.lifecycle_concurrency,
        profile=args.profile,
    )
    done = result.volumes - len(result.errors)
    report("issued and deleted", f"{done} in {result.seconds:.2f} s ({done / result.seconds:.0f} volumes/s)")
    if result.errors:
        report("  errors", f"{len(result.errors)}; first: {result.errors[0][:200]}")
    report(
        "sandbox CPU per volume",
        f"{result.cpu_ms_per_volume:.2f} ms (idle before: {result.idle_cpu_rate * 100:.1f} % CPU, subtracted)",
        floor=f"<= {FLOOR_CPU_MS:g} ms per ECDSA volume",
        met=result.cpu_ms_per_volume <= FLOOR_CPU_MS and not result.errors,
        comparable=args.lifecycle_volumes >= FLOOR_REQUESTS and args.profile is None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox inside this process")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-watch", action="store_true")
    parser.add_argument("--lifecycle-volumes", type=int, default=1000)
    parser.add_argument("--lifecycle-concurrency", type=int, default=50)
    parser.add_argument("--skip-lifecycle", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy record the sandbox during (c) to this file")
    args = parser.parse_args()
    if args.profile and py_spy() is None:
        parser.error("--profile needs py-spy (.venv/bin/pip install py-spy)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
