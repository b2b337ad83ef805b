"""csi.cert-manager.io driver benchmark: publish latency and rate, 1,000 volumes, idle cost, unpublish.

    .venv/bin/python bench/publish.py [--idle-seconds 60] [--volumes 1000] [--concurrency 50]
                                      [--latency-volumes 200] [--latency-concurrency 1,50] [--strace-seconds 10]

Starts the sandbox (`certcsi sandbox up`, its own process) and the REAL driver as its own process
(`python -m certcsi driver ... --kube-api-qps 1000 --kube-api-burst 1000`), then calls
NodePublishVolume / NodeUnpublishVolume directly over the driver's unix socket with the requests
kubelet would send for an inline volume (kubelet's volume id and target path, pod info in the
volume context, read-only, mount capability). Nothing else runs between this script and the
driver, so the numbers are the driver's, not the kubelet stand-in's.

As root the script re-executes itself in a private mount namespace (`unshare --mount --propagation
private`) and the driver uses a real tmpfs and read-only bind mounts; otherwise the driver runs with
--unsafe-no-mount and the output says so. Certificates last 24h, so nothing renews while idle.

(a) latency: `--latency-volumes` ECDSA P-256 volumes, then as many RSA-2048, at each of
    `--latency-concurrency`; p50 / p99 / max per call and volumes per second; unpublished after.
(b) `--volumes` ECDSA P-256 volumes at `--concurrency`: total time.
(c) idle with those volumes for `--idle-seconds`: driver CPU (utime+stime), RSS, read syscalls and
    bytes from /proc/<pid>/io; then, if strace exists, a separate `--strace-seconds` window that
    names what each read() / openat() touched.
(d) unpublish them all: total time.
Prints numbers and the issue-3 floors next to them; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import (
    api_client,
    create_namespace,
    git_describe,
    heading,
    latency_summary,
    machine_line,
    report,
    sandbox,
)

from certcsi.csi._gen import csi_pb2
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.sandbox.demo import DRIVER, NODE, Progress, _remove_workdir, driver_process
from certcsi.sandbox.kubelet import paths
from certcsi.sandbox.kubelet.calling import DriverClient, NodeCapabilities
from certcsi.sandbox.kubelet.planning import DriverSpec, InlineVolume, PodRef, publish_request

NAMESPACE = "bench"
VOLUME_NAME = "tls"
MOUNT_NS_ENV = "CERTCSI_BENCH_IN_MOUNT_NS"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KEYS = {"ECDSA P-256": ("ECDSA", "256"), "RSA-2048": ("RSA", "2048")}

FLOOR_VOLUMES = 1000
FLOOR_PUBLISH_SECONDS = 20.0
FLOOR_CPU_PERCENT = 1.0
FLOOR_RSS_MB = 150.0

# What kubelet knows about the driver: the CSIDriver object of deploy/ (podInfoOnMount, Ephemeral).
DRIVER_SPEC = DriverSpec(name=DRIVER, pod_info_on_mount=True, lifecycle_modes=("Ephemeral",))
CAPABILITIES = NodeCapabilities(volume_mount_group=True)


def reexec_in_mount_namespace() -> None:
    """As root, run again inside a private mount namespace so no tmpfs or bind mount outlives us."""
    if os.geteuid() != 0 or os.environ.get(MOUNT_NS_ENV) or shutil.which("unshare") is None:
        return
    os.environ[MOUNT_NS_ENV] = "1"
    argv = ["unshare", "--mount", "--propagation", "private", sys.executable, *sys.argv]
    os.execvp("unshare", argv)


@dataclass(frozen=True)
class BenchVolume:
    volume_id: str
    target_path: str
    request: csi_pb2.NodePublishVolumeRequest


def make_volumes(kubelet_root: Path, *, count: int, key: tuple[str, str]) -> list[BenchVolume]:
    """Kubelet-shaped publish requests for `count` one-volume pods; their parent dirs made as kubelet does."""
    algorithm, size = key
    volume = InlineVolume(
        name=VOLUME_NAME,
        driver=DRIVER,
        read_only=True,
        attributes={
            "csi.cert-manager.io/issuer-name": CA_ISSUER,
            "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
            "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local",
            "csi.cert-manager.io/duration": "24h",
            "csi.cert-manager.io/key-algorithm": algorithm,
            "csi.cert-manager.io/key-size": size,
        },
    )
    return pod_volumes(kubelet_root, count=count, volume=volume, driver=DRIVER_SPEC, service_account="default")


def pod_volumes(
    kubelet_root: Path,
    *,
    count: int,
    volume: InlineVolume,
    driver: DriverSpec,
    service_account: str,
    tokens_json: str | None = None,
) -> list[BenchVolume]:
    """`count` one-volume pods in NAMESPACE: kubelet's publish requests, their parent dirs made as kubelet does."""
    volumes: list[BenchVolume] = []
    for _ in range(count):
        uid = str(uuid.uuid4())
        pod = PodRef(
            namespace=NAMESPACE, name=f"pod-{uid[:8]}", uid=uid, service_account=service_account, fs_group=None
        )
        volume_id = paths.volume_id(uid, volume.name)
        target = paths.target_path(kubelet_root, uid, volume.name)
        paths.prepare_volume_dir(
            target,
            paths.vol_data(volume_name=volume.name, volume_handle=volume_id, driver_name=driver.name, node_name=NODE),
        )
        request = publish_request(
            volume_id=volume_id,
            target_path=str(target),
            volume=volume,
            pod=pod,
            driver=driver,
            capabilities=CAPABILITIES,
            tokens_json=tokens_json,
            secret_data={},
        )
        volumes.append(BenchVolume(volume_id=volume_id, target_path=str(target), request=request))
    return volumes


@dataclass(frozen=True)
class Run:
    seconds: float
    latencies: Sequence[float]
    errors: Sequence[str]


async def run_calls(endpoint: str, volumes: Sequence[BenchVolume], *, concurrency: int, publish: bool) -> Run:
    """Publish (or unpublish) every volume with `concurrency` callers on one channel, as kubelet would."""
    client = DriverClient(endpoint)
    latencies: list[float] = []
    errors: list[str] = []
    pending = iter(volumes)

    async def caller() -> None:
        for volume in pending:
            began = time.perf_counter()
            try:
                if publish:
                    await client.publish(volume.request)
                else:
                    await client.unpublish(volume_id=volume.volume_id, target_path=volume.target_path)
            except Exception as exc:  # counted and shown, never fatal: this is a measurement
                errors.append(str(exc))
                continue
            latencies.append(time.perf_counter() - began)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    finally:
        await client.close()
    return Run(seconds=seconds, latencies=latencies, errors=errors)


def report_run(label: str, run: Run, *, count: int) -> None:
    report(
        label,
        f"{run.seconds:.2f} s, {len(run.latencies) / run.seconds:.1f} volumes/s; {latency_summary(run.latencies)}",
    )
    if run.errors:
        report("  errors", f"{len(run.errors)}; first: {run.errors[0][:200]}")
    elif len(run.latencies) != count:
        report("  answered", f"{len(run.latencies)} of {count}")


@dataclass(frozen=True)
class ProcSample:
    """What /proc says about one process at one moment."""

    wall: float
    cpu_seconds: float
    rss_kb: int
    hwm_kb: int
    threads: int
    syscr: int
    rchar: int
    read_bytes: int

    @classmethod
    def of(cls, pid: int) -> ProcSample:
        # Fields after the command name (which may hold spaces) — utime and stime are 14th and 15th.
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        io = dict(line.split(": ", 1) for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        return cls(
            wall=time.monotonic(),
            cpu_seconds=(int(stat[11]) + int(stat[12])) / CLOCK_TICKS,
            rss_kb=int(status["VmRSS"].split()[0]),
            hwm_kb=int(status["VmHWM"].split()[0]),
            threads=int(status["Threads"]),
            syscr=int(io["syscr"]),
            rchar=int(io["rchar"]),
            read_bytes=int(io["read_bytes"]),
        )


def cpu_percent(before: ProcSample, after: ProcSample) -> float:
    return 100.0 * (after.cpu_seconds - before.cpu_seconds) / (after.wall - before.wall)


async def idle_window(driver_pid: int, sandbox_pid: int | None, *, seconds: float) -> None:
    before = ProcSample.of(driver_pid)
    sandbox_before = ProcSample.of(sandbox_pid) if sandbox_pid else None
    await asyncio.sleep(seconds)
    after = ProcSample.of(driver_pid)
    cpu = cpu_percent(before, after)
    reads = after.syscr - before.syscr
    report(
        f"driver CPU over {after.wall - before.wall:.0f} s",
        f"{cpu:.3f} % ({after.cpu_seconds - before.cpu_seconds:.3f} CPU-seconds)",
        floor=f"< {FLOOR_CPU_PERCENT:g} % over 60 s",
        met=cpu < FLOOR_CPU_PERCENT,
        comparable=seconds >= 60,
    )
    rss_mb = after.rss_kb / 1024
    report(
        "driver RSS",
        f"{rss_mb:.1f} MB (peak {after.hwm_kb / 1024:.1f} MB, {after.threads} threads)",
        floor=f"< {FLOOR_RSS_MB:g} MB",
        met=rss_mb < FLOOR_RSS_MB,
    )
    report(
        "driver read syscalls (syscr)",
        f"{reads} ({after.rchar - before.rchar} bytes via read-type calls; "
        f"{after.read_bytes - before.read_bytes} bytes from storage)",
        floor="zero file reads (syscr counts sockets, pipes and eventfds too)",
        met=reads == 0,
    )
    if sandbox_before is not None and sandbox_pid:
        sandbox_after = ProcSample.of(sandbox_pid)
        report("sandbox CPU (for reference)", f"{cpu_percent(sandbox_before, sandbox_after):.3f} %")


_STRACE_LINE = re.compile(r"^(?:\[pid\s+\d+\]\s+)?(?:\d+\s+)?(\w+)\((?:-?\d+<([^>]*)>)?")
_READ_CALLS = frozenset({"read", "readv", "pread64", "preadv", "preadv2", "recvfrom", "recvmsg"})
_OPEN_CALLS = frozenset({"open", "openat", "openat2"})


def classify_fd(target: str | None) -> str:
    """What an fd points at, from strace -y's annotation: socket, pipe, eventfd, ... or `file <path>`."""
    if not target:
        return "unknown"
    if target.startswith(("socket:", "UNIX", "TCP", "UDP")):
        return "socket"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("anon_inode:"):
        return target.split("[", 1)[-1].rstrip("]") or "anon_inode"
    return "file " + target


def syscall_counts(trace: str) -> Counter[str]:
    """Calls by name; read-type calls also by what they read from."""
    counts: Counter[str] = Counter()
    for line in trace.splitlines():
        match = _STRACE_LINE.match(line)
        if match is None:
            continue
        call, target = match.groups()
        counts[f"{call}({classify_fd(target)})" if call in _READ_CALLS else call] += 1
    return counts


async def strace_window(pid: int, *, seconds: float, workdir: Path) -> None:
    """Every system call the idle driver makes, by name; reads by what they touch (strace -f -y)."""
    if shutil.which("strace") is None:
        report("strace", "not installed: no breakdown of the reads above")
        return
    output = workdir / "strace.txt"
    proc = await asyncio.create_subprocess_exec(
        "strace", "-f", "-y", "-qq", "-o", str(output), "-p", str(pid),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(seconds)
    attached = proc.returncode is None  # strace gives up at once when it may not trace (e.g. not root)
    if attached:
        proc.terminate()
    _, stderr = await proc.communicate()
    if not attached or not output.exists():
        report("strace", f"could not attach: {stderr.decode(errors='replace').strip()[:200]}")
        return
    counts = syscall_counts(output.read_text())
    file_reads = sum(n for what, n in counts.items() if "(file " in what or what in _OPEN_CALLS)
    report(
        f"strace -f, all calls, {seconds:g} s", ", ".join(f"{what}: {n}" for what, n in counts.most_common()) or "none"
    )
    report("  file reads + opens (strace)", str(file_reads))


async def main_async(args: argparse.Namespace) -> None:
    await in_bench_workdir(args, script="publish", bench=run_bench)


Bench = Callable[..., Awaitable[None]]


async def in_bench_workdir(args: argparse.Namespace, *, script: str, bench: Bench) -> None:
    """The header lines (commit, machine, mount mode), then `bench(args, workdir=, unsafe=)` in a fresh work dir."""
    real_mounts = os.geteuid() == 0 and not args.no_mounts
    print(f"certcsi bench/{script}.py @ {git_describe()}; {machine_line()}")
    if real_mounts:
        print("mounts: REAL (root, private mount namespace): tmpfs data root and read-only bind mounts")
    else:
        why = "--no-mounts" if args.no_mounts else "not root"
        print(f"mounts: NONE ({why}): driver runs with --unsafe-no-mount; plain directories and symlinks")
    workdir = Path(tempfile.mkdtemp(prefix=f"certcsi-bench-{script}-"))
    try:
        await bench(args, workdir=workdir, unsafe=not real_mounts)
    finally:
        if args.keep:
            print(f"kept {workdir} (driver.log, sandbox.log)")
        else:
            _remove_workdir(workdir)


async def run_bench(args: argparse.Namespace, *, workdir: Path, unsafe: bool) -> None:
    kubelet_root = workdir / "kubelet"
    budget = ["--kube-api-qps", "1000", "--kube-api-burst", "1000"]
    async with sandbox(workdir=workdir) as cluster:
        api = await api_client(cluster.kubeconfig)
        try:
            await create_namespace(api, NAMESPACE)
        finally:
            await api.close()
        progress = Progress(lambda text: print(text.strip(), flush=True))
        async with driver_process(
            workdir=workdir, kubeconfig=cluster.kubeconfig, unsafe=unsafe, progress=progress, extra_args=budget
        ) as driver:
            start_sample = ProcSample.of(driver.pid)
            report("driver RSS at start", f"{start_sample.rss_kb / 1024:.1f} MB")
            heading(f"(a) publish latency, {args.latency_volumes} volumes per run (24h certificates)")
            for label, key in KEYS.items() if args.latency_volumes > 0 else ():
                for concurrency in args.latency_concurrency:
                    volumes = make_volumes(kubelet_root, count=args.latency_volumes, key=key)
                    run = await run_calls(driver.endpoint, volumes, concurrency=concurrency, publish=True)
                    report_run(f"{label}, concurrency {concurrency}", run, count=len(volumes))
                    await run_calls(driver.endpoint, volumes, concurrency=concurrency, publish=False)

            heading(f"(b) {args.volumes} ECDSA P-256 volumes at concurrency {args.concurrency}")
            volumes = make_volumes(kubelet_root, count=args.volumes, key=KEYS["ECDSA P-256"])
            spy = await start_profiler(driver.pid, args.profile) if args.profile else None
            run = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=True)
            if spy is not None:
                await stop_profiler(spy)
            report_run("publish", run, count=len(volumes))
            report(
                f"{args.volumes} volumes published",
                f"{run.seconds:.2f} s",
                floor=f"{FLOOR_VOLUMES} at concurrency 50 in < {FLOOR_PUBLISH_SECONDS:g} s",
                met=run.seconds < FLOOR_PUBLISH_SECONDS and not run.errors,
                comparable=args.volumes >= FLOOR_VOLUMES and args.concurrency == 50,
            )

            heading(
                f"(c) idle with {len(run.latencies)} volumes: {args.settle_seconds:g} s to settle, "
                f"then {args.idle_seconds:g} s measured (no CSI calls, no channel open)"
            )
            await asyncio.sleep(args.settle_seconds)
            await idle_window(driver.pid, cluster.pid, seconds=args.idle_seconds)
            if args.strace_seconds > 0:
                await strace_window(driver.pid, seconds=args.strace_seconds, workdir=workdir)

            heading(f"(d) unpublish all {len(volumes)} at concurrency {args.concurrency}")
            gone = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=False)
            report_run("unpublish", gone, count=len(volumes))
            after = ProcSample.of(driver.pid)
            report("driver RSS after unpublish", f"{after.rss_kb / 1024:.1f} MB")


async def start_profiler(pid: int, output: Path) -> asyncio.subprocess.Process:
    """py-spy (PyPI) sampling the driver, raw collapsed stacks to `output`."""
    proc = await asyncio.create_subprocess_exec(
        "py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nonblocking",
        "--threads", "--output", str(output), stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1.0)  # attached
    return proc


async def stop_profiler(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(2)
    await proc.wait()


def concurrency_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-volumes", type=int, default=200, help="0 skips (a)")
    parser.add_argument("--latency-concurrency", type=concurrency_list, default=[1, 50], help="comma-separated")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--settle-seconds", type=float, default=5.0, help="quiet time before the idle window")
    parser.add_argument("--strace-seconds", type=float, default=10.0, help="0 disables the strace window")
    parser.add_argument("--no-mounts", action="store_true", help="--unsafe-no-mount even as root (to compare)")
    parser.add_argument("--profile", type=Path, help="py-spy record the driver during (b) to this file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    args = parser.parse_args()
    reexec_in_mount_namespace()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
