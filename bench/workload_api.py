"""SPIFFE Workload API benchmark: 1,000 volumes each with an open FetchX509SVID stream; memory, fds, idle CPU,
and how fast each renewal reaches its stream.

    .venv/bin/python bench/workload_api.py [--volumes 1000] [--duration-seconds 150] [--idle-seconds 60]

Starts the sandbox (`certcsi sandbox up`, its own process) and the REAL `certcsi spiffe-driver` process
(`--workload-api`, certificates of `--duration-seconds`), publishes `--volumes` volumes over its CSI
socket with the requests kubelet sends (a real service-account token of an account allowed to create
CertificateRequests), then opens one FetchX509SVID stream per volume from this process (grpclib, the
spec's security header) on the socket in each volume's data directory.

(a) publish: total time; driver RSS and open fds with the listening sockets alone.
(b) streams: every stream's first SVID; then driver RSS, open fds and threads.
(c) idle: driver CPU (utime + stime) over `--idle-seconds` with every stream open, before any renewal.
(d) rotation: each volume renews at two thirds of its lifetime (minus up to 5 % jitter). Push latency =
    the moment this process receives the renewed SVID on the open stream minus the moment the driver
    renamed the new `..data` link into place (that link's ctime). Both are CLOCK_REALTIME; tmpfs stamps
    with the coarse clock, so the latency is overstated by up to one tick (~4 ms), never understated.
(e) unpublish all: the driver's RSS and fds after.
Prints numbers and the issue-12 floors next to them; it asserts nothing.

As root it re-executes itself in a private mount namespace and the driver mounts its real tmpfs; else the
driver runs with --unsafe-no-mount and the output says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    api_client,
    call,
    create_namespace,
    heading,
    latency_summary,
    percentile,
    report,
    sandbox,
)
from grpclib.client import Channel
from publish import (
    NAMESPACE,
    BenchVolume,
    ProcSample,
    cpu_percent,
    in_bench_workdir,
    pod_volumes,
    reexec_in_mount_namespace,
    run_calls,
)

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.drivers.spiffe.workload._gen.workload_grpc import SpiffeWorkloadAPIStub
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.sandbox.demo import Progress, driver_process
from certcsi.sandbox.kubelet.calling import NodeCapabilities
from certcsi.sandbox.kubelet.planning import DriverSpec, InlineVolume
from certcsi.timestamps import rfc3339
from certcsi.volumes.store import DATA_LINK, INMEMFS

SPIFFE = "spiffe.csi.cert-manager.io"
ACCOUNT = "bench-app"
VOLUME_NAME = "spiffe"
SOCKET = "spiffe.sock"
RBAC = "rbac.authorization.k8s.io"

FLOOR_RSS_MB = 200.0
FLOOR_PUSH_P99 = 1.0
FLOOR_CPU_PERCENT = 1.0
FLOOR_VOLUMES = 1000

DRIVER_SPEC = DriverSpec(name=SPIFFE, pod_info_on_mount=True, lifecycle_modes=("Ephemeral",))
CAPABILITIES = NodeCapabilities(volume_mount_group=True)


async def service_account_token(kubeconfig: Path) -> str:
    """An account that may create CertificateRequests in the namespace, and a token for the API's audience."""
    api = await api_client(kubeconfig)
    try:
        await create_namespace(api, NAMESPACE)
        await call(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", body={"metadata": {"name": ACCOUNT}})
        rule = {"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["create"]}
        await call(
            api,
            "POST",
            f"/apis/{RBAC}/v1/namespaces/{NAMESPACE}/roles",
            body={"metadata": {"name": ACCOUNT}, "rules": [rule]},
        )
        await call(
            api,
            "POST",
            f"/apis/{RBAC}/v1/namespaces/{NAMESPACE}/rolebindings",
            body={
                "metadata": {"name": ACCOUNT},
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": ACCOUNT},
                "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
            },
        )
        answer = await call(
            api,
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{ACCOUNT}/token",
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            },
        )
        return str(answer["status"]["token"])
    finally:
        await api.close()


def make_volumes(kubelet_root: Path, *, count: int, token: str) -> list[BenchVolume]:
    """Kubelet-shaped publish requests for `count` one-volume pods of the bench account."""
    expires = rfc3339(datetime.now(UTC) + timedelta(hours=1))
    tokens = '{"": {"token": "%s", "expirationTimestamp": "%s"}}' % (token, expires)  # noqa: UP031 - JSON braces
    volume = InlineVolume(name=VOLUME_NAME, driver=SPIFFE, read_only=True)
    return pod_volumes(
        kubelet_root, count=count, volume=volume, driver=DRIVER_SPEC, service_account=ACCOUNT, tokens_json=tokens
    )


@dataclass
class Follower:
    """One volume's open stream, as a workload follows it: the first SVID, then every renewal."""

    volume_id: str
    data_dir: Path
    first: asyncio.Event = field(default_factory=asyncio.Event)
    renewed: asyncio.Event = field(default_factory=asyncio.Event)
    latency: float | None = None
    error: str | None = None

    async def follow(self) -> None:
        directory = os.open(self.data_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        # /proc/self/fd names the socket in a few bytes: a data directory's path is longer than a socket address.
        channel = Channel(path=f"/proc/self/fd/{directory}/{SOCKET}")
        try:
            stub = SpiffeWorkloadAPIStub(channel)
            async with stub.FetchX509SVID.open(metadata={"workload.spiffe.io": "true"}) as stream:
                await stream.send_message(pb.X509SVIDRequest(), end=True)
                first = await stream.recv_message()
                assert first is not None
                self.first.set()
                while (message := await stream.recv_message()) is not None:
                    received = time.time_ns()
                    if message.svids[0].x509_svid != first.svids[0].x509_svid and self.latency is None:
                        written = os.lstat(self.data_dir / DATA_LINK).st_ctime_ns
                        self.latency = (received - written) / 1e9
                        self.renewed.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # counted and shown: this is a measurement
            self.error = f"{type(exc).__name__}: {exc}"
            self.first.set()
            self.renewed.set()
        finally:
            channel.close()
            os.close(directory)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def driver_line(label: str, pid: int) -> ProcSample:
    sample = ProcSample.of(pid)
    report(label, f"RSS {sample.rss_kb / 1024:.1f} MB, {open_fds(pid)} open fds, {sample.threads} threads")
    return sample


@contextlib.asynccontextmanager
async def following(followers: Sequence[Follower]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(f.follow()) for f in followers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_bench(args: argparse.Namespace, *, workdir: Path, unsafe: bool) -> None:
    flags = [
        "--issuer-name", CA_ISSUER, "--issuer-kind", "ClusterIssuer",
        "--certificate-request-duration", f"{args.duration_seconds:g}s",
        "--workload-api", "--kube-api-qps", "1000", "--kube-api-burst", "1000",
    ]  # fmt: skip
    async with sandbox(workdir=workdir) as cluster:
        token = await service_account_token(cluster.kubeconfig)
        progress = Progress(lambda text: print(text.strip(), flush=True))
        async with driver_process(
            workdir=workdir,
            kubeconfig=cluster.kubeconfig,
            unsafe=unsafe,
            progress=progress,
            extra_args=flags,
            command=("spiffe-driver", "--csi-driver-name", SPIFFE),
            driver_name=SPIFFE,
        ) as driver:
            driver_line("driver at start", driver.pid)
            heading(f"(a) publish {args.volumes} volumes at concurrency {args.concurrency}")
            volumes = make_volumes(workdir / "kubelet", count=args.volumes, token=token)
            published_at = time.monotonic()
            run = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=True)
            report("publish", f"{run.seconds:.2f} s ({len(run.latencies)} of {len(volumes)}, {len(run.errors)} errors)")
            if run.errors:
                report("  first error", run.errors[0][:300])
            driver_line("driver with listening sockets only", driver.pid)

            heading("(b) one FetchX509SVID stream per volume, opened from this process")
            inmemfs = workdir / "csi-data-dir" / INMEMFS
            followers = [Follower(v.volume_id, inmemfs / v.volume_id / "data") for v in volumes]
            async with following(followers):
                started = time.monotonic()
                await asyncio.gather(*(f.first.wait() for f in followers))
                failed = [f for f in followers if f.error]
                report("first SVID on every stream", f"{time.monotonic() - started:.2f} s, {len(failed)} failed")
                if failed:
                    report("  first error", str(failed[0].error)[:300])
                await asyncio.sleep(args.settle_seconds)
                sample = driver_line("driver with every stream open", driver.pid)
                rss_mb = sample.rss_kb / 1024
                report(
                    "driver RSS",
                    f"{rss_mb:.1f} MB",
                    floor=f"<= {FLOOR_RSS_MB:g} MB with {FLOOR_VOLUMES} streams",
                    met=rss_mb <= FLOOR_RSS_MB,
                    comparable=args.volumes >= FLOOR_VOLUMES and not failed,
                )

                first_renewal = published_at + args.duration_seconds * (2 / 3 - 0.05)
                window = min(args.idle_seconds, first_renewal - time.monotonic() - 2)
                heading(f"(c) idle with every stream open: {window:.0f} s before the first renewal is due")
                before = ProcSample.of(driver.pid)
                await asyncio.sleep(max(window, 0))
                after = ProcSample.of(driver.pid)
                cpu = cpu_percent(before, after)
                report(
                    f"driver CPU over {after.wall - before.wall:.0f} s",
                    f"{cpu:.3f} % ({after.cpu_seconds - before.cpu_seconds:.3f} CPU-seconds)",
                    floor=f"< {FLOOR_CPU_PERCENT:g} %",
                    met=cpu < FLOOR_CPU_PERCENT,
                    comparable=window >= 30,
                )

                heading("(d) rotation: each volume renews; its stream gets the new SVID")
                deadline = args.duration_seconds + 30
                await asyncio.wait([asyncio.ensure_future(f.renewed.wait()) for f in followers], timeout=deadline)
                latencies = [f.latency for f in followers if f.latency is not None]
                errors = [f.error for f in followers if f.error]
                report("renewals pushed", f"{len(latencies)} of {len(followers)}; {len(errors)} stream errors")
                if errors:
                    report("  first error", str(errors[0])[:300])
                report("push latency (files written -> received)", latency_summary(latencies))
                p99 = percentile(latencies, 0.99) if latencies else float("inf")
                report(
                    "push p99",
                    f"{p99 * 1000:.1f} ms",
                    floor=f"<= {FLOOR_PUSH_P99:g} s",
                    met=p99 <= FLOOR_PUSH_P99 and len(latencies) == len(followers),
                    comparable=args.volumes >= FLOOR_VOLUMES,
                )
                driver_line("driver after the rotations", driver.pid)

            heading(f"(e) unpublish all {len(volumes)}")
            gone = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=False)
            report("unpublish", f"{gone.seconds:.2f} s, {len(gone.errors)} errors")
            driver_line("driver after unpublish", driver.pid)


def raise_own_fd_limit() -> None:
    """This process holds a directory fd and a connection per volume."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main_async(args: argparse.Namespace) -> None:
    raise_own_fd_limit()
    await in_bench_workdir(args, script="workload_api", bench=run_bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration-seconds", type=float, default=150.0, help="certificate lifetime (renewal at 2/3)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="cut short if a renewal would fall in it")
    parser.add_argument("--settle-seconds", type=float, default=5.0, help="quiet time before measuring memory")
    parser.add_argument("--no-mounts", action="store_true", help="--unsafe-no-mount even as root (to compare)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    args = parser.parse_args()
    reexec_in_mount_namespace()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
