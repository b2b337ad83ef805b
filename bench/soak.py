"""Soak benchmark (issue 8): a node survives kill -9, half-open API connections and an API outage.

    .venv/bin/python bench/soak.py                        # all three scenarios, full size (~15 min)
    .venv/bin/python bench/soak.py kill --volumes 50 --kill-seconds 60 --steady-seconds 30   # quick look

Real processes and real mounts: the sandbox runs as its own process (`certcsi sandbox up`), the driver
as another (`certcsi driver`, restarted on the same socket and data root after each kill), and the
kubelet stand-in in this one: it creates and deletes pods through the API and publishes / unpublishes
their volumes over CSI, retrying as kubelet does (with a backoff capped at 4 s instead of kubelet's
2 min, so the numbers are the driver's). As root the script re-executes itself in a private mount
namespace; it needs root (tmpfs and bind mounts).

The driver reaches the API server through `faultproxy.FaultProxy`; the kubelet stand-in does not, so a
fault hits the driver alone. The proxy and `DriverRunner` are the test tree's (tests/support).

kill       --volumes pods with --duration certificates; every --kill-every s for --kill-seconds the
           driver gets SIGKILL and is restarted at once, while one pod is replaced every --churn-every
           s; then --steady-seconds without kills. Printed: live volumes, valid pairs (key matches the
           certificate, not expired, signed by the CA), expired pairs (at the end, and seen while
           steady), torn file sets, max CertificateRequests per volume, orphan mounts, leftover
           directories, leaked CertificateRequests, secrets in the driver's logs.
half-open  --volumes pods; then, timed so that their renewals fall in its middle, every connection
           the driver has open is frozen for --fault-seconds (new ones work) while a new pod is
           created every --probe-every s; then --settle-seconds.
           Printed: seconds from the fault until a publish succeeds, the slowest of those publishes,
           renewals during the fault, expired pairs at the end.
outage     --volumes pods created over --spread-seconds (so renewals keep falling due); then the API
           server is unreachable from the driver for --outage-seconds. Printed: driver CPU during the
           outage; pairs that expired after the API came back although they had more than
           --margin-seconds left then (the driver's watch retries every 10 s at most, so it may take
           that long to notice; those with less are counted apart, as are those that expired during the
           outage); seconds until no volume is past its renewal time.

Prints numbers with issue 8's floors; it asserts nothing. tests/e2e/test_e2e_soak.py runs each scenario
small and asserts the floors that do not depend on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from _common import git_describe, heading, machine_line, report, sandbox
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from driver_runner import DriverRunner
from faultproxy import FaultProxy
from publish import ProcSample, cpu_percent, reexec_in_mount_namespace

from certcsi.durations import parse_go_duration
from certcsi.kube import Backoff
from certcsi.kube._http import HttpTransport
from certcsi.kube.config import open_transport
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE
from certcsi.sandbox.kubelet import Kubelet, target_path, volume_id
from certcsi.volumes.issuance import VOLUME_ID_HASH_LABEL, fnv_hash_label
from certcsi.volumes.mount import SyscallMounter, read_mountinfo
from certcsi.volumes.store import DATA_LINK, INMEMFS

NAMESPACE = "soak"
VOLUME = "tls"
KUBELET_BACKOFF = Backoff(base=0.5, factor=2.0, cap=4.0, jitter=0.2)
SECRET_MARKERS = (b"PRIVATE KEY", b"BEGIN EC", b"BEGIN RSA")


# --- the node: sandbox, proxy, driver, kubelet ----------------------------------------------------------


@dataclass
class Node:
    workdir: Path
    proxy: FaultProxy
    driver: DriverRunner
    kubelet: Kubelet
    api: HttpTransport
    created: dict[str, float] = field(default_factory=dict)  # pod name -> monotonic time of creation
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def add_pods(self, count: int, *, duration: str) -> list[str]:
        names = [f"pod-{next(self.ids):05d}" for _ in range(count)]
        await self.kubelet.apply([pod_manifest(name, duration) for name in names])
        now = time.monotonic()
        self.created.update((name, now) for name in names)
        return names

    async def wait_ready(self, names: Iterable[str], *, timeout: float) -> None:
        await asyncio.gather(*(self.kubelet.wait_ready(NAMESPACE, name, timeout=timeout) for name in names))

    async def delete_pod(self, name: str) -> None:
        await self.kubelet.delete_pod(NAMESPACE, name, wait=False)
        self.created.pop(name, None)

    async def list(self, path: str) -> list[dict[str, Any]]:
        return [item for item in (await self.api.request("GET", path)).get("items") or [] if isinstance(item, dict)]


def pod_manifest(name: str, duration: str) -> dict[str, Any]:
    attributes = {
        "csi.cert-manager.io/issuer-name": CA_ISSUER,
        "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
        "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local",
        "csi.cert-manager.io/duration": duration,
        "csi.cert-manager.io/key-algorithm": "ECDSA",
    }
    volume = {"name": VOLUME, "csi": {"driver": DRIVER, "readOnly": True, "volumeAttributes": attributes}}
    container = {"name": "app", "image": "busybox", "volumeMounts": [{"name": VOLUME, "mountPath": "/tls"}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"containers": [container], "volumes": [volume]},
    }


def through_proxy(kubeconfig: Path, port: int, out: Path) -> Path:
    config = yaml.safe_load(kubeconfig.read_text())
    for entry in config["clusters"]:
        server = entry["cluster"]["server"]
        entry["cluster"]["server"] = f"{server.rsplit(':', 1)[0]}:{port}"
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


@contextlib.asynccontextmanager
async def running_node(*, workdir: Path, driver_args: Sequence[str] = ()) -> AsyncIterator[Node]:
    """The sandbox, a fault proxy in front of it for the driver, the driver, and the kubelet stand-in."""
    try:
        async with contextlib.AsyncExitStack() as stack:
            cluster = await stack.enter_async_context(sandbox(workdir=workdir))
            server = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
            proxy = await stack.enter_async_context(FaultProxy(upstream_port=int(server.rsplit(":", 1)[1])))
            kubeconfig = through_proxy(cluster.kubeconfig, proxy.port, workdir / "driver.kubeconfig")
            driver = DriverRunner(workdir=workdir, kubeconfig=kubeconfig, extra_args=driver_args)
            stack.push_async_callback(driver.stop)
            await driver.start()
            kubelet = Kubelet(
                node_name=NODE,
                root_dir=workdir / "kubelet",
                drivers={DRIVER: driver.endpoint},
                kubeconfig=cluster.kubeconfig,
                publish_backoff=KUBELET_BACKOFF,
            )
            await stack.enter_async_context(kubelet)
            api = open_transport(kubeconfig=str(cluster.kubeconfig), qps=0, burst=1)
            stack.push_async_callback(api.close)
            await kubelet.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
            await kubelet.apply(CSIDRIVER_YAML)
            yield Node(workdir=workdir, proxy=proxy, driver=driver, kubelet=kubelet, api=api)
    finally:
        unmount_everything_under(workdir)


def mounts_under(path: Path) -> list[str]:
    root = os.path.realpath(path)
    found = [m.mount_point for m in read_mountinfo() if m.mount_point == root or m.mount_point.startswith(root + "/")]
    return sorted(found, key=len, reverse=True)


def unmount_everything_under(path: Path) -> None:
    mounter = SyscallMounter()
    for mount_point in mounts_under(path):
        with contextlib.suppress(OSError):
            mounter.unmount(mount_point)


# --- what the pods hold ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One pod's key pair as a careful reader sees it: through `..data`, one write at a time."""

    state: str  # valid | expired | torn | missing
    not_before: datetime | None = None
    not_after: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        """Past the time it should have been renewed (two thirds of its lifetime)."""
        if self.not_before is None or self.not_after is None:
            return True
        return now > self.not_before + (self.not_after - self.not_before) * 2 / 3


def _read_snapshot(target: Path) -> dict[str, bytes] | None:
    """The files of one write: `..data` resolved once, every file opened relative to it."""
    try:
        directory = os.open(target / DATA_LINK, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None

    def opener(name: str, flags: int) -> int:
        return os.open(name, flags, dir_fd=directory)

    try:
        contents = {}
        for name in ("tls.crt", "tls.key", "ca.crt"):
            with open(name, "rb", opener=opener) as file:
                contents[name] = file.read()
        return contents
    finally:
        os.close(directory)


def read_pair(target: Path, now: datetime) -> Pair:
    for _ in range(5):
        try:
            files = _read_snapshot(target)
        except FileNotFoundError:
            continue  # a renewal swapped the write and removed the old one while we read it
        if files is None:
            return Pair("missing")
        return judge(files, now)
    return Pair("torn")


def judge(files: dict[str, bytes], now: datetime) -> Pair:
    try:
        leaf = x509.load_pem_x509_certificate(files["tls.crt"])
        ca = x509.load_pem_x509_certificate(files["ca.crt"])
        key = serialization.load_pem_private_key(files["tls.key"], password=None)
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return Pair("torn")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        return Pair("torn")
    state = "valid" if leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc else "expired"
    return Pair(state, leaf.not_valid_before_utc, leaf.not_valid_after_utc)


@dataclass
class Inventory:
    live: int
    pairs: dict[str, Pair]  # pod name -> pair
    max_requests_per_volume: int
    leaked_requests: int
    orphan_mounts: list[str]
    leftover_dirs: list[str]

    def count(self, state: str) -> int:
        return sum(pair.state == state for pair in self.pairs.values())


async def live_pods(node: Node) -> dict[str, str]:
    """Pod name -> uid of every pod of the namespace that is not being deleted."""
    pods = await node.list(f"/api/v1/namespaces/{NAMESPACE}/pods")
    return {
        pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in pods if not pod["metadata"].get("deletionTimestamp")
    }


def pairs_of(node: Node, pods: dict[str, str]) -> dict[str, Pair]:
    now = datetime.now(UTC)
    return {name: read_pair(target_path(node.workdir / "kubelet", uid, VOLUME), now) for name, uid in pods.items()}


async def inventory(node: Node) -> Inventory:
    pods = await live_pods(node)
    volumes = {volume_id(uid, VOLUME) for uid in pods.values()}
    hashes = {fnv_hash_label(volume) for volume in volumes}
    requests = await node.list(f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificaterequests")
    per_volume = Counter((r["metadata"].get("labels") or {}).get(VOLUME_ID_HASH_LABEL, "") for r in requests)
    kubelet_root = node.workdir / "kubelet"
    inmemfs = node.workdir / "csi-data-dir" / INMEMFS
    expected = {os.path.realpath(inmemfs)} | {
        os.path.realpath(target_path(kubelet_root, uid, VOLUME)) for uid in pods.values()
    }
    pod_dirs = kubelet_root / "pods"
    leftovers = [f"{inmemfs}/{name}" for name in sorted(os.listdir(inmemfs)) if name not in volumes]
    if pod_dirs.is_dir():
        uids = set(pods.values())
        leftovers += [f"{pod_dirs}/{name}" for name in sorted(os.listdir(pod_dirs)) if name not in uids]
    return Inventory(
        live=len(pods),
        pairs=pairs_of(node, pods),
        max_requests_per_volume=max((per_volume[h] for h in hashes), default=0),
        leaked_requests=sum(n for h, n in per_volume.items() if h not in hashes),
        orphan_mounts=[m for m in mounts_under(node.workdir) if m not in expected],
        leftover_dirs=leftovers,
    )


def secrets_in(logs: bytes) -> int:
    return sum(any(marker in line for marker in SECRET_MARKERS) for line in logs.splitlines())


async def until_stopped(stop: asyncio.Event, every: float, step: Callable[[], Awaitable[None]]) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if not stop.is_set():
            await step()


# --- kill -9 ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillOptions:
    volumes: int = 200
    duration: str = "2m"
    kill_every: float = 5.0
    kill_seconds: float = 240.0
    churn_every: float = 1.0
    steady_seconds: float = 120.0


@dataclass
class KillResult:
    kills: int
    restart_seconds: list[float]
    replaced_pods: int
    final: Inventory
    expired_while_steady: int
    secrets_in_logs: int


async def kill_soak(options: KillOptions, *, workdir: Path) -> KillResult:
    async with running_node(workdir=workdir) as node:
        names = await node.add_pods(options.volumes, duration=options.duration)
        await node.wait_ready(names, timeout=120)
        live = set(names)
        replaced = 0

        async def replace_one() -> None:
            nonlocal replaced
            victim = random.choice(sorted(live))
            live.discard(victim)
            await node.delete_pod(victim)
            live.update(await node.add_pods(1, duration=options.duration))
            replaced += 1

        stop = asyncio.Event()
        churn = asyncio.create_task(until_stopped(stop, options.churn_every, replace_one))
        restarts: list[float] = []
        began = time.monotonic()
        try:
            # Kills on a fixed cadence: a slow restart eats into the next run, as with a crash loop.
            for kill in itertools.count(1):
                due = began + kill * options.kill_every
                if due > began + options.kill_seconds:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await node.driver.kill9()
                restarts.append(await node.driver.start())
        finally:
            stop.set()
            await churn

        expired: set[str] = set()

        async def sample() -> None:
            pairs = pairs_of(node, await live_pods(node))
            expired.update(name for name, pair in pairs.items() if pair.state == "expired")

        steady = asyncio.Event()
        sampler = asyncio.create_task(until_stopped(steady, 5.0, sample))
        await asyncio.sleep(options.steady_seconds)
        steady.set()
        await sampler
        await node.wait_ready(sorted(live), timeout=60)
        final = await inventory(node)
        return KillResult(
            kills=len(restarts),
            restart_seconds=restarts,
            replaced_pods=replaced,
            final=final,
            expired_while_steady=len(expired),
            secrets_in_logs=secrets_in(node.driver.logs()),
        )


def print_kill(options: KillOptions, result: KillResult) -> None:
    heading(
        f"kill -9: {options.volumes} volumes, {options.duration} certificates, kill every {options.kill_every:g} s "
        f"for {options.kill_seconds:g} s, one pod replaced every {options.churn_every:g} s, then "
        f"{options.steady_seconds:g} s steady"
    )
    final = result.final
    restarts = sorted(result.restart_seconds)
    report(
        "kills",
        f"{result.kills}; restart to Probe OK p50 {restarts[len(restarts) // 2]:.2f} s, max {restarts[-1]:.2f} s",
    )
    report("pods replaced meanwhile", str(result.replaced_pods))
    report("live volumes", str(final.live))
    report("valid pairs", str(final.count("valid")), floor="all live", met=final.count("valid") == final.live)
    report("expired pairs", str(final.count("expired")), floor="0", met=final.count("expired") == 0)
    report(
        "expired seen while steady", str(result.expired_while_steady), floor="0", met=result.expired_while_steady == 0
    )
    report("torn file sets", str(final.count("torn")), floor="0", met=final.count("torn") == 0)
    report("missing file sets", str(final.count("missing")), floor="0", met=final.count("missing") == 0)
    report(
        "max CertificateRequests per volume",
        str(final.max_requests_per_volume),
        floor="<= 1",
        met=final.max_requests_per_volume <= 1,
    )
    report("orphan mounts", str(len(final.orphan_mounts)), floor="0", met=not final.orphan_mounts)
    report("leftover directories", str(len(final.leftover_dirs)), floor="0", met=not final.leftover_dirs)
    report("leaked CertificateRequests", str(final.leaked_requests), floor="0", met=final.leaked_requests == 0)
    report("secrets in driver logs", str(result.secrets_in_logs), floor="0", met=result.secrets_in_logs == 0)


# --- half-open connections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HalfOpenOptions:
    volumes: int = 50
    duration: str = "2m"
    fault_seconds: float = 60.0
    probe_every: float = 2.0
    settle_seconds: float = 90.0
    watch_timeout: str = ""  # the driver's --kube-watch-timeout; "" keeps its default


@dataclass
class HalfOpenResult:
    frozen: int
    first_publish_seconds: float | None  # from the fault until a pod created during it runs
    slowest_publish_seconds: float  # creation -> running, of the pods created during the fault
    probes: int
    renewed_during_fault: int
    final: Inventory


async def half_open(options: HalfOpenOptions, *, workdir: Path) -> HalfOpenResult:
    args = ["--kube-watch-timeout", options.watch_timeout] if options.watch_timeout else []
    async with running_node(workdir=workdir, driver_args=args) as node:
        names = await node.add_pods(options.volumes, duration=options.duration)
        created = time.monotonic()
        await node.wait_ready(names, timeout=120)
        # Freeze so that the pods' renewals (at two thirds of the lifetime) fall in the fault's middle.
        renewal = parse_go_duration(options.duration).total_seconds() * 2 / 3
        await asyncio.sleep(max(1.0, created + renewal - options.fault_seconds / 2 - time.monotonic()))
        frozen = node.proxy.freeze()
        began, began_wall = time.monotonic(), datetime.now(UTC)
        ready_at: dict[str, float] = {}

        async def probe() -> None:
            [name] = await node.add_pods(1, duration=options.duration)
            await node.kubelet.wait_ready(NAMESPACE, name, timeout=options.fault_seconds + 180)
            ready_at[name] = time.monotonic()

        probes = []
        while time.monotonic() - began < options.fault_seconds:
            probes.append(asyncio.create_task(probe()))
            await asyncio.sleep(options.probe_every)
        node.proxy.thaw()
        pods = await live_pods(node)
        at_thaw = pairs_of(node, {name: pods[name] for name in names})
        window = began_wall - timedelta(seconds=1)  # certificates carry whole seconds
        renewed = sum(pair.not_before is not None and pair.not_before >= window for pair in at_thaw.values())
        await asyncio.gather(*probes)
        await asyncio.sleep(options.settle_seconds)
        final = await inventory(node)
        slowest = max(ready_at[name] - node.created.get(name, began) for name in ready_at) if ready_at else 0.0
        return HalfOpenResult(
            frozen=frozen,
            first_publish_seconds=min(ready_at.values()) - began if ready_at else None,
            slowest_publish_seconds=slowest,
            probes=len(probes),
            renewed_during_fault=renewed,
            final=final,
        )


def print_half_open(options: HalfOpenOptions, result: HalfOpenResult) -> None:
    heading(
        f"half-open: {options.volumes} volumes ({options.duration} certificates); the driver's "
        f"{result.frozen} open API connections frozen for {options.fault_seconds:g} s, new ones work"
    )
    first = result.first_publish_seconds
    report(
        "publishes succeed again after",
        "never" if first is None else f"{first:.1f} s",
        floor="<= 60 s",
        met=first is not None and first <= 60,
    )
    report("slowest publish during the fault", f"{result.slowest_publish_seconds:.1f} s ({result.probes} pods)")
    report("renewals during the fault", str(result.renewed_during_fault))
    final = result.final
    report("valid pairs at the end", f"{final.count('valid')} of {final.live}")
    report("expired pairs at the end", str(final.count("expired")), floor="0", met=final.count("expired") == 0)
    report("torn file sets", str(final.count("torn")), floor="0", met=final.count("torn") == 0)


# --- API outage -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutageOptions:
    volumes: int = 50
    duration: str = "3m"
    spread_seconds: float = 180.0
    outage_seconds: float = 120.0
    margin_seconds: float = 15.0
    catch_up_limit: float = 120.0


@dataclass
class OutageResult:
    cpu_percent: float
    due_during_outage: int  # renewals that fell due while the API was unreachable
    expired_with_time_left: int  # more than the margin left when the API came back
    expired_within_margin: int
    expired_during_outage: int
    catch_up_seconds: float | None
    final: Inventory


async def outage(options: OutageOptions, *, workdir: Path) -> OutageResult:
    async with running_node(workdir=workdir) as node:
        names: list[str] = []
        for _ in range(options.volumes):  # spread out, so their renewals fall due one after another
            names += await node.add_pods(1, duration=options.duration)
            await asyncio.sleep(options.spread_seconds / options.volumes)
        await node.wait_ready(names, timeout=120)
        pods = await live_pods(node)
        before = ProcSample.of(node.driver.pid)
        await node.proxy.refuse()
        at_start = pairs_of(node, pods)
        await asyncio.sleep(options.outage_seconds)
        after = ProcSample.of(node.driver.pid)
        back = datetime.now(UTC)
        due = sum(pair.overdue(back) for pair in at_start.values())
        left = {
            name: (pair.not_after - back).total_seconds()
            for name, pair in pairs_of(node, pods).items()
            if pair.state == "valid" and pair.not_after is not None
        }
        await node.proxy.accept()
        began = time.monotonic()
        expired_later: set[str] = set()
        caught_up: float | None = None
        while time.monotonic() - began < options.catch_up_limit:
            now = datetime.now(UTC)
            pairs = pairs_of(node, pods)
            expired_later.update(name for name in left if pairs[name].state != "valid")
            if all(pair.state == "valid" and not pair.overdue(now) for pair in pairs.values()):
                caught_up = time.monotonic() - began
                break
            await asyncio.sleep(0.5)
        with_time = sum(left[name] > options.margin_seconds for name in expired_later)
        return OutageResult(
            cpu_percent=cpu_percent(before, after),
            due_during_outage=due,
            expired_with_time_left=with_time,
            expired_within_margin=len(expired_later) - with_time,
            expired_during_outage=len(pods) - len(left),
            catch_up_seconds=caught_up,
            final=await inventory(node),
        )


def print_outage(options: OutageOptions, result: OutageResult) -> None:
    heading(
        f"API outage: {options.volumes} volumes ({options.duration} certificates, created over "
        f"{options.spread_seconds:g} s); the API server unreachable from the driver for {options.outage_seconds:g} s"
    )
    report(
        "driver CPU during the outage",
        f"{result.cpu_percent:.3f} %",
        floor="< 1 %",
        met=result.cpu_percent < 1.0,
        comparable=options.outage_seconds >= 60,
    )
    report("renewals due during the outage", str(result.due_during_outage))
    report(
        f"expired with > {options.margin_seconds:g} s left at return",
        str(result.expired_with_time_left),
        floor="0",
        met=result.expired_with_time_left == 0,
    )
    report(f"expired with <= {options.margin_seconds:g} s left", str(result.expired_within_margin))
    report("expired during the outage (no time left)", str(result.expired_during_outage))
    caught = result.catch_up_seconds
    report(
        "caught up after",
        "not within the limit" if caught is None else f"{caught:.1f} s",
        floor="<= 30 s",
        met=caught is not None and caught <= 30,
    )


# --- main -------------------------------------------------------------------------------------------------


SCENARIOS = ("kill", "half-open", "outage")


async def main_async(args: argparse.Namespace) -> None:
    print(f"certcsi bench/soak.py @ {git_describe()}; {machine_line()}")
    for scenario in args.scenarios or SCENARIOS:
        workdir = Path(tempfile.mkdtemp(prefix=f"soak-{scenario}-", dir="/tmp"))
        try:
            if scenario == "kill":
                kill = KillOptions(
                    volumes=args.volumes or 200,
                    duration=args.duration or "2m",
                    kill_every=args.kill_every,
                    kill_seconds=args.kill_seconds,
                    churn_every=args.churn_every,
                    steady_seconds=args.steady_seconds,
                )
                print_kill(kill, await kill_soak(kill, workdir=workdir))
            elif scenario == "half-open":
                fault = HalfOpenOptions(
                    volumes=args.volumes or 50,
                    duration=args.duration or "2m",
                    fault_seconds=args.fault_seconds,
                    probe_every=args.probe_every,
                    settle_seconds=args.settle_seconds,
                    watch_timeout=args.watch_timeout,
                )
                print_half_open(fault, await half_open(fault, workdir=workdir))
            else:
                down = OutageOptions(
                    volumes=args.volumes or 50,
                    duration=args.duration or "3m",
                    spread_seconds=args.spread_seconds,
                    outage_seconds=args.outage_seconds,
                    margin_seconds=args.margin_seconds,
                )
                print_outage(down, await outage(down, workdir=workdir))
        finally:
            if args.keep:
                print(f"kept {workdir} (driver*.log, sandbox.log)")
            else:
                unmount_everything_under(workdir)
                shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--volumes", type=int, default=0, help="pods (default: 200 kill, 50 half-open and outage)")
    parser.add_argument("--duration", default="", help="certificate duration (default: 2m, outage 3m)")
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--kill-seconds", type=float, default=240.0)
    parser.add_argument("--churn-every", type=float, default=1.0)
    parser.add_argument("--steady-seconds", type=float, default=120.0)
    parser.add_argument("--fault-seconds", type=float, default=60.0)
    parser.add_argument("--probe-every", type=float, default=2.0)
    parser.add_argument("--settle-seconds", type=float, default=90.0)
    parser.add_argument("--watch-timeout", default="", help="the driver's --kube-watch-timeout (half-open)")
    parser.add_argument("--spread-seconds", type=float, default=180.0)
    parser.add_argument("--outage-seconds", type=float, default=120.0)
    parser.add_argument("--margin-seconds", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep each scenario's working directory (logs)")
    args = parser.parse_args()
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}")
    if os.geteuid() != 0:
        sys.exit("bench/soak.py needs root: real tmpfs and bind mounts")
    # The kubelet stand-in warns of every publish a kill cut off: expected here, and not what is measured.
    logging.getLogger("certcsi").setLevel(logging.ERROR)
    reexec_in_mount_namespace()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
