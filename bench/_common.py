"""What both benchmarks share: the sandbox as its own process, raw API calls, percentiles, floor lines.

The sandbox runs as `python -m certcsi sandbox up` in a child process so that, on a 2-core machine,
the API server and the cert-manager stand-in get a core of their own and the benchmark's client
work (TLS, JSON, the watchers, gRPC calls) is not billed to the server, nor the server's to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

# The benchmarks drive a node with the test tree's tools (the fault proxy, the restartable driver process):
# every benchmark imports this module first, so tests/support joins the import path here.
sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "support"))

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
READY_LINE = "sandbox ready"


@dataclass(frozen=True)
class SandboxProcess:
    kubeconfig: Path
    pid: int | None  # None when the sandbox runs inside this process


@contextlib.asynccontextmanager
async def sandbox(*, workdir: Path, in_process: bool = False, timeout: float = 30.0) -> AsyncIterator[SandboxProcess]:
    """The sandbox control plane with its built-in approver on; yields where its kubeconfig is."""
    kubeconfig = workdir / "sandbox.kubeconfig"
    if in_process:
        from certcsi.sandbox.cluster import Sandbox

        async with Sandbox() as cluster:
            cluster.write_kubeconfig(kubeconfig)
            yield SandboxProcess(kubeconfig=kubeconfig, pid=None)
        return
    log = (workdir / "sandbox.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "certcsi", "sandbox", "up", "--kubeconfig", str(kubeconfig),
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if READY_LINE not in line.decode(errors="replace"):
            raise RuntimeError(f"the sandbox did not start (see {workdir / 'sandbox.log'}): {line!r}")
        yield SandboxProcess(kubeconfig=kubeconfig, pid=proc.pid)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def api_client(kubeconfig: Path, *, connections: int = 100) -> ApiClient:
    """A plain kubernetes_asyncio client for the admin in `kubeconfig`, with `connections` sockets at most."""
    configuration = Configuration()
    await kube_config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
    )
    configuration.connection_pool_maxsize = connections
    return ApiClient(configuration)


async def call(
    api: ApiClient,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    query: Sequence[tuple[str, str]] = (),
    content_type: str = JSON,
) -> dict[str, Any]:
    """One request on the plain-dict path (`_preload_content=False`): no model classes involved."""
    response = await send(api, method, path, body=body, query=query, content_type=content_type)
    try:
        decoded: dict[str, Any] = await response.json()
    finally:
        response.release()
    return decoded


async def send(
    api: ApiClient,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    query: Sequence[tuple[str, str]] = (),
    content_type: str = JSON,
    timeout: aiohttp.ClientTimeout | None = None,
) -> aiohttp.ClientResponse:
    """The raw response (the caller reads and releases it); raises on any status >= 300."""
    response: aiohttp.ClientResponse = await api.call_api(
        path,
        method,
        query_params=list(query),
        header_params={"Accept": JSON, "Content-Type": content_type},
        body=dict(body) if body is not None else None,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=timeout or aiohttp.ClientTimeout(total=60),
    )
    if response.status >= 300:
        text = await response.text()
        response.release()
        raise RuntimeError(f"{method} {path}: HTTP {response.status}: {text[:300]}")
    return response


async def create_namespace(api: ApiClient, name: str) -> None:
    await call(
        api, "POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> str:
    """p50 / p99 / max in milliseconds."""
    if not seconds:
        return "no samples"
    return (
        f"p50 {percentile(seconds, 0.50) * 1000:.1f} ms, p99 {percentile(seconds, 0.99) * 1000:.1f} ms, "
        f"max {max(seconds) * 1000:.1f} ms ({len(seconds)} samples)"
    )


def report(
    label: str, value: str, *, floor: str | None = None, met: bool | None = None, comparable: bool = True
) -> None:
    """One result line; with a floor, the floor and whether it was met (or that this run cannot tell)."""
    line = f"  {label:<34} {value}"
    if floor is not None:
        verdict = ("MET" if met else "MISSED") if comparable else "NOT JUDGED: run smaller than the floor's"
        line += f"    [floor: {floor} -> {verdict}]"
    print(line, flush=True)


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def machine_line() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"python {sys.version.split()[0]}, {cpus} CPUs, load average {load}, {time.strftime('%Y-%m-%d %H:%M:%S')}"


def git_describe() -> str:
    """The commit measured (and whether the tree had local changes), for the record."""
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    )
    return result.stdout.strip() or "unknown"
