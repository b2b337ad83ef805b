"""csi.cert-manager.io driver benchmark: the floor of one issuance, and the driver's figures beside it.

    .venv/bin/python bench/publish.py [--floor-samples 300] [--latency-volumes 100] [--volumes 1000]
                                      [--concurrency 50] [--idle-seconds 60] [--strace-seconds 10]
                                      [--restart-volumes 10000] [--restarts 1] [--profile FILE]
                                      [--profile-restart FILE]

Starts the sandbox (`certcsi sandbox up`, its own process) and the REAL driver as its own process
(`python -m certcsi driver ... --kube-api-qps 1000 --kube-api-burst 1000`), then calls
NodePublishVolume / NodeUnpublishVolume directly over the driver's unix socket with the requests
kubelet would send for an inline volume (kubelet's volume id and target path, pod info in the
volume context, read-only, mount capability). Nothing else runs between this script and the
driver, so the numbers are the driver's, not the kubelet stand-in's.

As root the script re-executes itself in a private mount namespace (`unshare --mount --propagation
private`) and the driver uses a real tmpfs and read-only bind mounts; otherwise the driver runs with
--unsafe-no-mount and the output says so. Certificates last 24h, so nothing renews while idle.

(0) the floor, in this process on one core: key + CSR + CA signature + parse + two fsync'd writes
    on tmpfs, for ECDSA P-256 and RSA-2048 (with the key made inside the clock, and made before it
    as a warm pool would); and the event loop's lag while a thread makes RSA keys.
(a) publish p50 / p99 at concurrency 1, ECDSA P-256 and RSA-2048: with the key pool warm (each call
    waits until the driver's pool is full again, read from its /metrics) and with it empty (a
    second driver with --key-pool-size=0); each beside its floor as a ratio.
(b) `--volumes` ECDSA P-256 volumes at `--concurrency`: seconds and the ratio to volumes x floor;
    CPU ms per volume of the driver and of the sandbox (/proc/<pid>/stat, until their Pod Events
    are written); Pod Events written per issuance and whether every issuance is accounted for.
(c) idle with those volumes for `--idle-seconds`: driver CPU (utime+stime), RSS, read syscalls and
    bytes from /proc/<pid>/io; then, if strace exists, a separate `--strace-seconds` window that
    names what each read() / openat() touched.
(d) unpublish them all: total time.
(e) `--restart-volumes` (10,000) on a driver of their own: publish, idle (CPU, RSS, reads), then stop it
    (SIGTERM, and SIGKILL) and start it again on the same data root: seconds from the exec to CSI
    serving (Probe OK) and to ready (/readyz 200), and CertificateRequests created after it.
Prints numbers and the floors next to them; it asserts nothing. `--profile FILE` records the driver
with py-spy (PyPI; raw collapsed stacks) during (b).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from _common import (
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
)
from _floor import Floor, loop_lag_with_rsa_thread, measure
from _lifecycle import py_spy
from _restart import RestartableDriver, Started
from kubernetes_asyncio.client import ApiClient

import certcsi
from certcsi.csi._gen import csi_pb2
from certcsi.pki.keypool import DEFAULT_POOL_SIZE
from certcsi.pki.keys import KeySpec
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.sandbox.demo import (
    DRIVER,
    NODE,
    Progress,
    RunningDriver,
    _remove_workdir,
    driver_command,
    driver_process,
)
from certcsi.sandbox.kubelet import paths
from certcsi.sandbox.kubelet.calling import DriverClient, NodeCapabilities
from certcsi.sandbox.kubelet.planning import DriverSpec, InlineVolume, PodRef, publish_request

NAMESPACE = "bench"
BULK_NAMESPACE = "bench-bulk"  # its own, so its Events are counted apart from (a)'s
RESTART_NAMESPACE = "bench-restart"  # (e)'s, whose CertificateRequests are counted before and after restarts
VOLUME_NAME = "tls"
MOUNT_NS_ENV = "CERTCSI_BENCH_IN_MOUNT_NS"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KEYS = {"ECDSA P-256": ("ECDSA", "256"), "RSA-2048": ("RSA", "2048")}
KEY_TYPES = {"ECDSA P-256": "ECDSA-256", "RSA-2048": "RSA-2048"}  # as the pool's metrics name them

FLOOR_VOLUMES = 1000
FLOOR_CPU_PERCENT = 1.0
FLOOR_RSS_MB = 150.0
FLOOR_RESTART_VOLUMES = 10_000
FLOOR_SERVING_S = 1.0
FLOOR_READY_S = 2.0

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


def make_volumes(
    kubelet_root: Path, *, count: int, key: tuple[str, str], namespace: str = NAMESPACE
) -> list[BenchVolume]:
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
    return pod_volumes(
        kubelet_root, count=count, volume=volume, driver=DRIVER_SPEC, service_account="default", namespace=namespace
    )


def pod_volumes(
    kubelet_root: Path,
    *,
    count: int,
    volume: InlineVolume,
    driver: DriverSpec,
    service_account: str,
    tokens_json: str | None = None,
    namespace: str = NAMESPACE,
) -> list[BenchVolume]:
    """`count` one-volume pods in `namespace`: kubelet's publish requests, their parent dirs made as kubelet does."""
    volumes: list[BenchVolume] = []
    for _ in range(count):
        uid = str(uuid.uuid4())
        pod = PodRef(
            namespace=namespace, name=f"pod-{uid[:8]}", uid=uid, service_account=service_account, fs_group=None
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


async def run_calls(
    endpoint: str,
    volumes: Sequence[BenchVolume],
    *,
    concurrency: int,
    publish: bool,
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> Run:
    """Publish (or unpublish) every volume with `concurrency` callers on one channel, as kubelet would.

    `before_each` runs before each call, outside the time measured.
    """
    client = DriverClient(endpoint)
    latencies: list[float] = []
    errors: list[str] = []
    pending = iter(volumes)

    async def caller() -> None:
        for volume in pending:
            if before_each is not None:
                await before_each()
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


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of each of `pid`'s threads, by thread name (same names summed)."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        seconds[comm] = seconds.get(comm, 0.0) + (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
    return seconds


def cpu_percent(before: ProcSample, after: ProcSample) -> float:
    return 100.0 * (after.cpu_seconds - before.cpu_seconds) / (after.wall - before.wall)


@dataclass(frozen=True)
class IdleFloors:
    cpu_percent: float
    rss_mb: float
    volumes: int  # the floors are judged for at least this many volumes


IDLE_FLOORS = IdleFloors(cpu_percent=FLOOR_CPU_PERCENT, rss_mb=FLOOR_RSS_MB, volumes=FLOOR_VOLUMES)
RESTART_IDLE_FLOORS = IdleFloors(cpu_percent=0.5, rss_mb=250.0, volumes=FLOOR_RESTART_VOLUMES)


async def idle_window(
    driver_pid: int, sandbox_pid: int | None, *, seconds: float, volumes: int, floors: IdleFloors = IDLE_FLOORS
) -> None:
    before = ProcSample.of(driver_pid)
    sandbox_before = ProcSample.of(sandbox_pid) if sandbox_pid else None
    await asyncio.sleep(seconds)
    after = ProcSample.of(driver_pid)
    cpu = cpu_percent(before, after)
    reads = after.syscr - before.syscr
    report(
        f"driver CPU over {after.wall - before.wall:.0f} s",
        f"{cpu:.3f} % ({after.cpu_seconds - before.cpu_seconds:.3f} CPU-seconds)",
        floor=f"< {floors.cpu_percent:g} % over 60 s",
        met=cpu < floors.cpu_percent,
        comparable=seconds >= 60 and volumes >= floors.volumes,
    )
    rss_mb = after.rss_kb / 1024
    report(
        "driver RSS",
        f"{rss_mb:.1f} MB (peak {after.hwm_kb / 1024:.1f} MB, {after.threads} threads)",
        floor=f"<= {floors.rss_mb:g} MB",
        met=rss_mb <= floors.rss_mb,
        comparable=volumes >= floors.volumes,
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
    floors = await measure_floors(args, workdir=workdir, tmpfs=not unsafe)
    budget = ["--kube-api-qps", "1000", "--kube-api-burst", "1000"]
    compile_bytecode(args.driver_source)
    async with sandbox(workdir=workdir) as cluster:
        api = await api_client(cluster.kubeconfig)
        try:
            for namespace in (NAMESPACE, BULK_NAMESPACE, RESTART_NAMESPACE):
                await create_namespace(api, namespace)
            progress = Progress(lambda text: print(text.strip(), flush=True))
            heading(f"(a) publish latency at concurrency 1, {args.latency_volumes} volumes per run (24h certificates)")
            if args.latency_volumes > 0:
                async with driver_process(
                    workdir=workdir / "pool-empty",
                    kubeconfig=cluster.kubeconfig,
                    unsafe=unsafe,
                    progress=progress,
                    extra_args=[*budget, "--key-pool-size=0"],
                ) as empty:
                    await latency_runs(args, empty.endpoint, workdir=workdir, floors=floors, metrics=None)
            port = free_port()
            if args.latency_volumes > 0 or args.volumes > 0:
                async with driver_process(
                    workdir=workdir,
                    kubeconfig=cluster.kubeconfig,
                    unsafe=unsafe,
                    progress=progress,
                    extra_args=[*budget, f"--metrics-bind-address=127.0.0.1:{port}"],
                ) as driver:
                    metrics = f"http://127.0.0.1:{port}/metrics"
                    if args.latency_volumes > 0:
                        await latency_runs(args, driver.endpoint, workdir=workdir, floors=floors, metrics=metrics)
                    if args.volumes > 0:
                        await bulk_runs(
                            args, driver, cluster.pid, api=api, workdir=workdir, floors=floors, metrics=metrics
                        )
            if args.restart_volumes > 0:
                await restart_runs(
                    args, kubeconfig=cluster.kubeconfig, sandbox_pid=cluster.pid, api=api, workdir=workdir,
                    unsafe=unsafe, budget=budget,
                )  # fmt: skip
        finally:
            await api.close()


def compile_bytecode(source: Path | None) -> None:
    """Compile certcsi's modules ahead, as pip does when the image is built: a driver started from the
    source tree under PYTHONDONTWRITEBYTECODE (set here, and in the image) would compile every module
    on every start (~0.2 s of a restart) and never keep the result.

    `source` (--driver-source): the processes started from here run certcsi from that directory (another
    checkout's `src`, to compare before and after); this script's own code stays this checkout's.
    """
    if source is not None:
        os.environ["PYTHONPATH"] = str(source.resolve())
        print(f"driver and sandbox processes run certcsi from {source.resolve()}", flush=True)
    package = (source / "certcsi") if source is not None else Path(certcsi.__file__).parent
    compiled = compileall.compile_dir(str(package), quiet=1, workers=1)
    print(f"bytecode: certcsi compiled beforehand ({package}){'' if compiled else ' -- FAILED'}", flush=True)


@dataclass(frozen=True)
class Floors:
    ecdsa: Floor
    rsa: Floor  # key made inside the clock
    rsa_premade: Floor  # key made before it, as a warm pool hands it out


async def measure_floors(args: argparse.Namespace, *, workdir: Path, tmpfs: bool) -> Floors:
    heading("(0) floor: key + CSR + CA signature + parse + two fsync'd writes, in-process, one core")
    directory = workdir / "floor"
    directory.mkdir()
    where = "tmpfs"
    if tmpfs:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(directory)], check=True)
    elif Path("/dev/shm").is_dir():
        directory = Path(tempfile.mkdtemp(prefix="certcsi-floor-", dir="/dev/shm"))
    else:
        where = "disk (no tmpfs)"
    try:
        ecdsa = measure(KeySpec("ECDSA", 256), directory=directory, samples=args.floor_samples)
        rsa_samples = max(20, args.floor_samples // 10)
        rsa = measure(KeySpec("RSA", 2048), directory=directory, samples=rsa_samples)
        premade = measure(KeySpec("RSA", 2048), directory=directory, samples=args.floor_samples, premade_keys=True)
    finally:
        if tmpfs:
            subprocess.run(["umount", str(directory)], check=False)
        elif where == "tmpfs":
            shutil.rmtree(directory, ignore_errors=True)
    for label, floor in (
        ("ECDSA P-256", ecdsa),
        ("RSA-2048, key in the clock", rsa),
        ("RSA-2048, key made before", premade),
    ):
        report(f"{label}", f"p50 {floor.p50_ms:.2f} ms, p99 {floor.p99_ms:.2f} ms ({floor.samples}, {where})")
    lag, keygen, keys, stalled = await loop_lag_with_rsa_thread(3.0)
    verdict = "GIL released" if stalled * 4 < keys else "GIL HELD"
    report(
        "loop lag, RSA keygen in a thread",
        f"max {lag:.1f} ms; {stalled} ticks stalled for most of a key's {keygen:.0f} ms, "
        f"over {keys} keys made ({verdict} during key generation)",
    )
    return Floors(ecdsa=ecdsa, rsa=rsa, rsa_premade=premade)


def ratio(value_ms: float, floor_ms: float) -> str:
    return f"{value_ms / floor_ms:.1f}x floor" if floor_ms > 0 else "floor unknown"


async def latency_runs(
    args: argparse.Namespace, endpoint: str, *, workdir: Path, floors: Floors, metrics: str | None
) -> None:
    """Concurrency 1, each key type; `metrics` given: the pool is warm (waited for before every call)."""
    pool = "pool warm" if metrics else "pool empty"
    for label, key in KEYS.items():
        volumes = make_volumes(workdir / "kubelet", count=args.latency_volumes + 1, key=key, namespace=NAMESPACE)
        # One unmeasured call first: the key type joins the pool on first use.
        await run_calls(endpoint, volumes[:1], concurrency=1, publish=True)
        pace = PoolPacer(metrics, KEY_TYPES[label]) if metrics else None
        try:
            run = await run_calls(endpoint, volumes[1:], concurrency=1, publish=True, before_each=pace)
        finally:
            if pace is not None:
                await pace.close()
        await run_calls(endpoint, volumes, concurrency=10, publish=False)
        p50, p99 = percentile(run.latencies, 0.5) * 1000, percentile(run.latencies, 0.99) * 1000
        floor = floors.ecdsa if label == "ECDSA P-256" else floors.rsa_premade if metrics else floors.rsa
        errors = f"; {len(run.errors)} errors, first: {run.errors[0][:120]}" if run.errors else ""
        value = f"p50 {p50:.1f} ms ({ratio(p50, floor.p50_ms)}), p99 {p99:.1f} ms ({ratio(p99, floor.p99_ms)}){errors}"
        if label == "ECDSA P-256":
            report(f"{label}, {pool}", value, floor="p50 <= 3 ms", met=p50 <= 3 and not run.errors)
        elif metrics:
            met = p50 <= 10 and p99 <= 30 and not run.errors
            report(f"{label}, {pool}", value, floor="p50 <= 10 ms, p99 <= 30 ms", met=met)
        else:
            report(f"{label}, {pool}", value)


async def bulk_runs(
    args: argparse.Namespace,
    driver: RunningDriver,
    sandbox_pid: int | None,
    *,
    api: ApiClient,
    workdir: Path,
    floors: Floors,
    metrics: str,
) -> None:
    heading(f"(b) {args.volumes} ECDSA P-256 volumes at concurrency {args.concurrency}")
    volumes = make_volumes(workdir / "kubelet", count=args.volumes, key=KEYS["ECDSA P-256"], namespace=BULK_NAMESPACE)
    before = ProcSample.of(driver.pid)
    threads_before = thread_cpu(driver.pid)
    sandbox_before = ProcSample.of(sandbox_pid) if sandbox_pid else None
    spy = await start_profiler(driver.pid, args.profile) if args.profile else None
    run = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=True)
    if spy is not None:
        await stop_profiler(spy)
    report_run("publish", run, count=len(volumes))
    budget_s = args.volumes * floors.ecdsa.p50_ms / 1000
    report(
        f"{args.volumes} volumes published",
        f"{run.seconds:.2f} s = {run.seconds / budget_s:.1f}x ({args.volumes} x floor = {budget_s:.2f} s)",
        floor="<= 4x floor",
        met=run.seconds <= 4 * budget_s and not run.errors,
        comparable=args.volumes >= FLOOR_VOLUMES and args.concurrency == 50,
    )
    issued = len(run.latencies)
    # Nothing reads the driver's /metrics until its CPU is sampled: a scrape of 1,000 volumes' series
    # costs it tens of milliseconds.
    objects, issued_count = await settled_events(api, BULK_NAMESPACE, expected=issued)
    after = ProcSample.of(driver.pid)
    threads_after = thread_cpu(driver.pid)
    per_volume = (after.cpu_seconds - before.cpu_seconds) * 1000 / max(1, issued)
    report(
        "driver CPU per volume",
        f"{per_volume:.2f} ms ({ratio(per_volume, floors.ecdsa.p50_ms)}; publish and its Pod Event)",
        floor="<= 2 ms",
        met=per_volume <= 2,
    )
    by_thread = {
        name: (cpu - threads_before.get(name, 0.0)) * 1000 / max(1, issued) for name, cpu in threads_after.items()
    }
    shown = sorted(((ms, name) for name, ms in by_thread.items() if ms >= 0.01), reverse=True)
    report("  by thread (ms per volume)", ", ".join(f"{name} {ms:.2f}" for ms, name in shown))
    sandbox_after = ProcSample.of(sandbox_pid) if sandbox_pid else None
    dropped = await events_dropped(metrics)
    if sandbox_before is not None and sandbox_after is not None:
        per_request = (sandbox_after.cpu_seconds - sandbox_before.cpu_seconds) * 1000 / max(1, issued)
        report("sandbox CPU per volume", f"{per_request:.2f} ms (request, approval, signing, Event)", floor="<= 2 ms",
               met=per_request <= 2)  # fmt: skip
    report(
        "Pod Events per issuance",
        f"{objects / max(1, issued):.2f} written ({objects} Events, CertificateIssued count "
        f"{issued_count} of {issued} issuances; {dropped} dropped and counted)",
        floor="every issuance accounted for",
        met=issued_count == issued and dropped == 0,
    )

    heading(
        f"(c) idle with {issued} volumes: {args.settle_seconds:g} s to settle, "
        f"then {args.idle_seconds:g} s measured (no CSI calls, no channel open)"
    )
    await asyncio.sleep(args.settle_seconds)
    await idle_window(driver.pid, sandbox_pid, seconds=args.idle_seconds, volumes=issued)
    if args.strace_seconds > 0:
        await strace_window(driver.pid, seconds=args.strace_seconds, workdir=workdir)

    heading(f"(d) unpublish all {len(volumes)} at concurrency {args.concurrency}")
    gone = await run_calls(driver.endpoint, volumes, concurrency=args.concurrency, publish=False)
    report_run("unpublish", gone, count=len(volumes))
    report("driver RSS after unpublish", f"{ProcSample.of(driver.pid).rss_kb / 1024:.1f} MB")


async def restart_runs(
    args: argparse.Namespace,
    *,
    kubeconfig: Path,
    sandbox_pid: int | None,
    api: ApiClient,
    workdir: Path,
    unsafe: bool,
    budget: Sequence[str],
) -> None:
    """(e): a driver of its own publishes `--restart-volumes`, idles, and is stopped and started again."""
    count = args.restart_volumes
    heading(f"(e) {count} ECDSA P-256 volumes at concurrency {args.concurrency}: publish, idle, restart")
    home = workdir / "restart"
    sock = home / "plugins" / DRIVER / "csi.sock"
    sock.parent.mkdir(parents=True)
    endpoint = f"unix://{sock}"
    port = free_port()
    command = driver_command(
        workdir=home,
        kubeconfig=kubeconfig,
        unsafe=unsafe,
        endpoint=endpoint,
        extra_args=[*budget, f"--metrics-bind-address=127.0.0.1:{port}"],
    )
    driver = RestartableDriver(
        command, endpoint=endpoint, readyz=f"http://127.0.0.1:{port}/readyz", log=home / "driver.log"
    )
    async with driver.running() as cold:
        report_start("start with no volume", cold, count=0)
        report("  driver RSS", f"{ProcSample.of(driver.pid).rss_kb / 1024:.1f} MB")
        volumes = make_volumes(home / "kubelet", count=count, key=KEYS["ECDSA P-256"], namespace=RESTART_NAMESPACE)
        run = await run_calls(endpoint, volumes, concurrency=args.concurrency, publish=True)
        report_run("publish", run, count=count)
        published = len(run.latencies)
        await asyncio.sleep(args.settle_seconds)
        print(f"  idle {args.idle_seconds:g} s with {published} volumes (load average {load_average()})", flush=True)
        await idle_window(
            driver.pid, sandbox_pid, seconds=args.idle_seconds, volumes=published, floors=RESTART_IDLE_FLOORS
        )
        if args.strace_seconds > 0:
            await strace_window(driver.pid, seconds=args.strace_seconds, workdir=home)
        requests = await request_names(api, RESTART_NAMESPACE)
        report("CertificateRequests before restarting", str(len(requests)))
        for how in (signal.SIGTERM, signal.SIGKILL):
            for _ in range(args.restarts):
                exited = await driver.stop(how)
                started = await driver.start()
                report_start(f"restart after {how.name} ({exited:.2f} s to exit)", started, count=published)
                await asyncio.sleep(args.restart_watch_seconds)
                now = await request_names(api, RESTART_NAMESPACE)
                report(
                    f"  requests created in {args.restart_watch_seconds:g} s",
                    str(len(now - requests)),
                    floor="0 re-issued",
                    met=not now - requests,
                )
                report(
                    "  driver RSS", f"{ProcSample.of(driver.pid).rss_kb / 1024:.1f} MB (load average {load_average()})"
                )
                requests = now
        if args.profile_restart:
            await driver.stop(signal.SIGTERM)
            await driver.start(profile=args.profile_restart)
            report("profiled start (not judged)", f"{args.profile_restart}")
            await asyncio.sleep(args.restart_watch_seconds)
            await driver.stop(signal.SIGTERM)
            await driver.start()
        gone = await run_calls(endpoint, volumes, concurrency=args.concurrency, publish=False)
        report_run("unpublish", gone, count=count)


def report_start(label: str, started: Started, *, count: int) -> None:
    value = f"serving (Probe OK) {started.serving:.2f} s, ready (/readyz 200) {started.ready:.2f} s after exec"
    if count == 0:
        report(label, value)
        return
    met = started.serving <= FLOOR_SERVING_S and started.ready <= FLOOR_READY_S
    floor = f"serving <= {FLOOR_SERVING_S:g} s, ready <= {FLOOR_READY_S:g} s"
    report(label, value, floor=floor, met=met, comparable=count >= FLOOR_RESTART_VOLUMES)


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def request_names(api: ApiClient, namespace: str) -> set[str]:
    listed = await call(api, "GET", f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificaterequests")
    return {item["metadata"]["name"] for item in listed.get("items", [])}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def scrape(url: str) -> dict[str, float]:
    """The driver's /metrics as {series: value}."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return parse_exposition(await response.text())


def parse_exposition(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            values[series] = float(value)
    return values


class PoolPacer:
    """Before each call, a warm pool: wait while the driver's pool of `key_type` is being refilled.

    The pool refills (to its full size, 8 by default) once keys taken bring it to half; above half it
    is left alone. So after a call: one key fewer than before, above half, means nothing is being
    made; anything else means a refill runs, and the next call waits until it is full.
    """

    def __init__(self, url: str, key_type: str) -> None:
        # The pool's family alone: a whole scrape renders every volume's series (~70 us of the driver's CPU each).
        self._url = f"{url}?name[]=certcsi_key_pool_keys"
        self._series = f'certcsi_key_pool_keys{{key_type="{key_type}"}}'
        self._before: float | None = None
        # One session throughout: one opened and closed per call left this process closing connections
        # while the next call's answer came in, which added 1-2 ms to what it measured.
        self._session: aiohttp.ClientSession | None = None

    async def ready(self) -> float:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(self._url) as response:
            return parse_exposition(await response.text()).get(self._series, 0.0)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __call__(self, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        now = await self.ready()
        quiet = self._before is not None and now == self._before - 1 and now > DEFAULT_POOL_SIZE // 2
        while not quiet and now < DEFAULT_POOL_SIZE:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the driver's pool ({self._series}) did not fill within {timeout:g} s")
            await asyncio.sleep(0.005)
            now = await self.ready()
        self._before = now


async def settled_events(api: ApiClient, namespace: str, *, expected: int, timeout: float = 30.0) -> tuple[int, int]:
    """(Event objects, sum of CertificateIssued counts) once they account for `expected` issuances, or once
    nothing changed for 3 s. Listed once a second: each list costs the sandbox CPU that is counted."""
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    while True:
        listed = await call(api, "GET", f"/api/v1/namespaces/{namespace}/events")
        items = listed.get("items", [])
        tally = (len(items), sum(int(e.get("count") or 1) for e in items if e.get("reason") == "CertificateIssued"))
        if tally != last:
            last, quiet_since = tally, time.monotonic()
        if tally[1] >= expected or time.monotonic() - quiet_since > 3 or time.monotonic() > deadline:
            return tally
        await asyncio.sleep(1.0)


async def events_dropped(metrics: str) -> int:
    """What the driver counted as not recorded (certcsi_pod_events_dropped_total, all reasons)."""
    values = await scrape(metrics)
    return int(sum(v for k, v in values.items() if k.startswith("certcsi_pod_events_dropped_total")))


async def start_profiler(pid: int, output: Path) -> asyncio.subprocess.Process:
    """py-spy (PyPI) sampling the driver, raw collapsed stacks to `output`."""
    proc = await asyncio.create_subprocess_exec(
        py_spy() or "py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nonblocking",
        "--threads", "--output", str(output), stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1.0)  # attached
    return proc


async def stop_profiler(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(2)
    await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1000, help="(b)'s volumes; 0 skips (b), (c) and (d)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--floor-samples", type=int, default=300, help="issuances measured for the ECDSA floor")
    parser.add_argument("--latency-volumes", type=int, default=100, help="per key type and pool state; 0 skips (a)")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--settle-seconds", type=float, default=5.0, help="quiet time before the idle window")
    parser.add_argument("--strace-seconds", type=float, default=10.0, help="0 disables the strace window")
    parser.add_argument("--no-mounts", action="store_true", help="--unsafe-no-mount even as root (to compare)")
    parser.add_argument("--profile", type=Path, help="py-spy record the driver during (b) to this file")
    parser.add_argument("--restart-volumes", type=int, default=FLOOR_RESTART_VOLUMES, help="(e)'s volumes; 0 skips (e)")
    parser.add_argument("--restarts", type=int, default=1, help="restarts after SIGTERM, and after SIGKILL, in (e)")
    parser.add_argument(
        "--restart-watch-seconds", type=float, default=5.0, help="after each restart, how long new requests are awaited"
    )
    parser.add_argument("--profile-restart", type=Path, help="py-spy one more start of (e)'s driver")
    parser.add_argument("--driver-source", type=Path, help="run the driver and sandbox from this src directory")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    args = parser.parse_args()
    reexec_in_mount_namespace()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
