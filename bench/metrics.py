"""What one /metrics scrape costs a node driver with many volumes, and how long it holds up its event loop.

    .venv/bin/python bench/metrics.py [--volumes 1000,10000] [--scrapes 20] [--stall-scrapes 5]
                                      [--driver-source ../other-checkout/src]

Starts the sandbox and the REAL csi.cert-manager.io driver (`--metrics-bind-address` on), publishes
ECDSA P-256 volumes over its CSI socket as kubelet would (bench/publish.py's requests, concurrency 50),
and at each count in `--volumes` (cumulative: 1,000 then 9,000 more) prints:
- the first scrape after publishing: the driver's CPU (one /proc reading, 10 ms ticks) and wall time;
- a whole scrape: wall time (client's view, one scrape at a time) and the driver's CPU per scrape
  (Δ utime + stime from /proc/<pid>/stat over `--scrapes` scrapes, minus its idle rate measured just
  before), the response's size and its series;
- the longest the driver's event loop was held during a scrape: a probe (its own process) calls
  NodeGetCapabilities over the CSI socket every 2 ms while `--stall-scrapes` scrapes run; its worst
  latency then, beside its p50 with no scrape running (what a CSI call, a renewal or a watch event
  waits for meanwhile: the loop, and the GIL on its way in and out through grpc's thread; on 2 cores
  also a core, while the driver and this script's receiving of the answer hold both);
- a scrape of one family by name (`?name[]=certcsi_key_pool_keys`, what a pool pacer asks), CPU per scrape.
Floors (issue 11, scrape item): a whole scrape at 10,000 volumes <= 100 ms of driver CPU, at 1,000
<= 15 ms; no stall over 50 ms at 10,000. As root, real tmpfs and bind mounts (private mount namespace).
Prints numbers; asserts nothing. `--profile FILE` records the driver with py-spy (raw collapsed
stacks) during the largest count's whole scrapes (py-spy's sampling adds to the CPU printed then).
`--driver-source DIR` runs the driver from another checkout's src (the "before"); run both
alternately to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
from _common import api_client, create_namespace, heading, percentile, report, sandbox
from publish import (
    BULK_NAMESPACE,
    ProcSample,
    compile_bytecode,
    free_port,
    in_bench_workdir,
    make_volumes,
    reexec_in_mount_namespace,
    run_calls,
    start_profiler,
    stop_profiler,
)

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.sandbox.demo import Progress, driver_process
from certcsi.sandbox.kubelet.calling import channel_target

FLOOR_CPU_MS = {1_000: 15.0, 10_000: 100.0}
FLOOR_STALL_MS = 50.0
FLOOR_STALL_VOLUMES = 10_000
PROBE_PERIOD_S = 0.002
POOL_FAMILY = "certcsi_key_pool_keys"
BUDGET = ("--kube-api-qps", "1000", "--kube-api-burst", "1000")  # as bench/publish.py: the client never waits
ECDSA = ("ECDSA", "256")


@dataclass(frozen=True)
class Scrapes:
    wall_ms: list[float]
    cpu_ms: float  # driver CPU per scrape, idle rate subtracted
    size: int
    series: int


async def fetch(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.read()


async def idle_cpu_rate(pid: int, seconds: float = 1.0) -> float:
    """The driver's CPU seconds per second with nothing asked of it."""
    before = ProcSample.of(pid)
    await asyncio.sleep(seconds)
    after = ProcSample.of(pid)
    return (after.cpu_seconds - before.cpu_seconds) / (after.wall - before.wall)


async def scrapes(session: aiohttp.ClientSession, url: str, *, pid: int, count: int) -> Scrapes:
    """`count` scrapes one after another; /proc's CPU ticks are 10 ms, so the total is divided, not each."""
    idle = await idle_cpu_rate(pid)
    walls: list[float] = []
    body = b""
    before = ProcSample.of(pid)
    for _ in range(count):
        began = time.perf_counter()
        body = await fetch(session, url)
        walls.append((time.perf_counter() - began) * 1000)
    after = ProcSample.of(pid)
    cpu = (after.cpu_seconds - before.cpu_seconds) - idle * (after.wall - before.wall)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return Scrapes(wall_ms=walls, cpu_ms=max(cpu, 0.0) * 1000 / count, size=len(body), series=series)


async def probe_forever(endpoint: str) -> None:
    """(`--probe`, in its own process) NodeGetCapabilities every PROBE_PERIOD_S; prints each call's start
    (time.monotonic, the same clock in every process) and seconds taken."""
    channel = grpc.aio.insecure_channel(channel_target(endpoint), options=[("grpc.default_authority", "localhost")])
    node = csi_pb2_grpc.NodeStub(channel)
    while True:
        began = time.monotonic()
        await node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest(), timeout=30)
        print(began, time.monotonic() - began, flush=True)
        await asyncio.sleep(PROBE_PERIOD_S)


class CapabilitiesProbe:
    """`probe_forever` in a process of its own: in this one, receiving a 13 MB answer would delay the
    probe's own answers and bill the driver for it."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self.samples: list[tuple[float, float]] = []  # (began, seconds)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answered = asyncio.Event()

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--probe", self._endpoint, stdout=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._read(self._proc))
        await asyncio.wait_for(self._answered.wait(), 30)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            fields = line.split()
            if len(fields) != 2:
                continue  # a line cut short when the process is stopped
            self.samples.append((float(fields[0]), float(fields[1])))
            self._answered.set()

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await self._proc.wait()
        if self._reader is not None:
            await self._reader

    def latencies_ms(self, windows: list[tuple[float, float]]) -> list[float]:
        """Latencies of the calls that overlapped any of `windows` (start, end)."""
        return [
            seconds * 1000
            for began, seconds in self.samples
            if any(began < end and began + seconds > start for start, end in windows)
        ]


async def stall(session: aiohttp.ClientSession, url: str, *, endpoint: str, count: int) -> tuple[float, float, float]:
    """(probe p50 ms with no scrape, probe max ms during scrapes, probe p99 ms during scrapes)."""
    probe = CapabilitiesProbe(endpoint)
    await probe.start()
    try:
        await asyncio.sleep(1.0)
        quiet = [seconds * 1000 for _, seconds in probe.samples]
        windows: list[tuple[float, float]] = []
        for _ in range(count):
            began = time.monotonic()
            await fetch(session, url)
            windows.append((began, time.monotonic()))
            await asyncio.sleep(0.3)
    finally:
        await probe.stop()
    during = probe.latencies_ms(windows)
    return statistics.median(quiet), max(during), percentile(during, 0.99)


async def measure(args: argparse.Namespace, *, volumes: int, pid: int, endpoint: str, url: str) -> None:
    heading(f"{volumes} volumes published")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        first = await scrapes(session, url, pid=pid, count=1)  # lines rendered for the first time
        report("first scrape (nothing kept yet)", f"driver CPU {first.cpu_ms:.0f} ms, wall {first.wall_ms[0]:.0f} ms")
        profiler = await start_profiler(pid, args.profile) if args.profile and volumes == args.largest else None
        whole = await scrapes(session, url, pid=pid, count=args.scrapes)
        if profiler is not None:
            await stop_profiler(profiler)
        floor = FLOOR_CPU_MS.get(volumes)
        report(
            "whole scrape: driver CPU",
            f"{whole.cpu_ms:.1f} ms per scrape ({whole.cpu_ms * 1000 / volumes:.1f} µs a volume)",
            floor=f"<= {floor:g} ms" if floor is not None else None,
            met=floor is not None and whole.cpu_ms <= floor,
        )
        report(
            "whole scrape: wall",
            f"p50 {statistics.median(whole.wall_ms):.1f} ms, max {max(whole.wall_ms):.1f} ms ({args.scrapes} scrapes)",
        )
        report("whole scrape: response", f"{whole.size / 1e6:.2f} MB, {whole.series} series")
        quiet, worst, p99 = await stall(session, url, endpoint=endpoint, count=args.stall_scrapes)
        report(
            "NodeGetCapabilities during scrapes",
            f"max {worst:.1f} ms, p99 {p99:.1f} ms (no scrape: p50 {quiet:.2f} ms)",
            floor=f"max <= {FLOOR_STALL_MS:g} ms",
            met=worst <= FLOOR_STALL_MS,
            comparable=volumes >= FLOOR_STALL_VOLUMES,
        )
        one = await scrapes(session, f"{url}?name[]={POOL_FAMILY}", pid=pid, count=args.scrapes * 10)
        report(f"?name[]={POOL_FAMILY}", f"{one.cpu_ms:.2f} ms driver CPU per scrape, {one.size} bytes")


async def run_bench(args: argparse.Namespace, *, workdir: Path, unsafe: bool) -> None:
    compile_bytecode(args.driver_source)
    counts = sorted(int(n) for n in args.volumes.split(","))
    args.largest = counts[-1]
    async with sandbox(workdir=workdir) as cluster:
        api = await api_client(cluster.kubeconfig)
        try:
            await create_namespace(api, BULK_NAMESPACE)
            port = free_port()
            async with driver_process(
                workdir=workdir,
                kubeconfig=cluster.kubeconfig,
                unsafe=unsafe,
                progress=Progress(lambda text: print(text.strip(), flush=True)),
                extra_args=[*BUDGET, f"--metrics-bind-address=127.0.0.1:{port}"],
            ) as driver:
                url = f"http://127.0.0.1:{port}/metrics"
                pending = make_volumes(workdir / "kubelet", count=counts[-1], key=ECDSA, namespace=BULK_NAMESPACE)
                published = 0
                for count in counts:
                    run = await run_calls(driver.endpoint, pending[published:count], concurrency=50, publish=True)
                    if run.errors:
                        print(f"  {len(run.errors)} publishes failed; first: {run.errors[0][:200]}", flush=True)
                    published = count
                    await asyncio.sleep(args.settle_seconds)
                    await measure(args, volumes=count, pid=driver.pid, endpoint=driver.endpoint, url=url)
        finally:
            await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", default="1000,10000", help="volume counts, comma-separated (cumulative)")
    parser.add_argument("--scrapes", type=int, default=20, help="whole scrapes timed per count")
    parser.add_argument("--stall-scrapes", type=int, default=5, help="scrapes while the probe runs")
    parser.add_argument("--settle-seconds", type=float, default=3.0, help="quiet time after publishing")
    parser.add_argument("--no-mounts", action="store_true", help="--unsafe-no-mount even as root")
    parser.add_argument("--driver-source", type=Path, help="run the driver and sandbox from this src directory")
    parser.add_argument("--profile", type=Path, help="py-spy record the driver during the largest count's scrapes")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    parser.add_argument("--probe", metavar="ENDPOINT", help=argparse.SUPPRESS)  # the probe's own process
    args = parser.parse_args()
    if args.probe:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(probe_forever(args.probe))
        return
    reexec_in_mount_namespace()
    asyncio.run(in_bench_workdir(args, script="metrics", bench=run_bench))


if __name__ == "__main__":
    main()
