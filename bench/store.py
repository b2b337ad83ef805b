"""The volume store's writes per publish, per call: a first publish, a renewal and an unpublish's removal.

The store alone, no driver: `Store.write_metadata`, `write_status`, `Store.write_files` and
`Store.remove_volume` in the order the manager calls them, on a real tmpfs (the store mounts it, as
the driver does), each timed per call in microseconds of this thread's CPU (user + kernel) and of
wall clock. Needs root; re-executes itself in a private mount namespace, so nothing outlives it.
`--source DIR` measures the certcsi found there instead (another checkout's src: the "before").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import git_describe, heading, machine_line, percentile, report
from publish import reexec_in_mount_namespace

import certcsi
from certcsi.volumes.mount import SyscallMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.status import VolumeStatus, write_status
from certcsi.volumes.store import Metadata, Store

# What the csi.cert-manager.io driver keeps of a kubelet-shaped inline volume (the token already taken out).
CONTEXT = {
    "csi.cert-manager.io/issuer-name": "sandbox-ca",
    "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
    "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local",
    "csi.storage.k8s.io/ephemeral": "true",
    "csi.storage.k8s.io/pod.name": "app-0",
    "csi.storage.k8s.io/pod.namespace": "bench",
    "csi.storage.k8s.io/pod.uid": "6f1c1a3e-8a8e-4e8e-9a53-6a4c1c7e1b2d",
    "csi.storage.k8s.io/serviceAccount.name": "default",
}
# Sizes of an ECDSA P-256 volume's files as the driver writes them (PEM).
FILES = {"tls.crt": b"c" * 900, "tls.key": b"k" * 241, "ca.crt": b"a" * 700}
ISSUER_REQUEST = "bench-request-0"


def _timed(ids: list[str], call: Callable[[str], object]) -> tuple[list[float], list[float]]:
    """(CPU µs, wall µs) of `call(volume_id)` for each volume."""
    cpu_us, wall_us = [], []
    for volume_id in ids:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        call(volume_id)
        cpu_us.append((time.thread_time_ns() - cpu) / 1000)
        wall_us.append((time.perf_counter_ns() - wall) / 1000)
    return cpu_us, wall_us


def _steps(store: Store) -> list[tuple[str, Callable[[str], object]]]:
    """The manager's store calls, in its order: first publish, renewal, unpublish."""
    now = datetime.now(UTC)
    renew_at, not_after = now + timedelta(hours=16), now + timedelta(hours=24)

    def metadata(volume_id: str, next_issuance: datetime | None) -> Metadata:
        return Metadata(volume_id, f"/var/lib/kubelet/pods/{volume_id}/mount", next_issuance, CONTEXT)

    issued = VolumeStatus(request_name=ISSUER_REQUEST, certificate_file="tls.crt", not_before=now, not_after=not_after)
    return [
        ("first: write_metadata (claim)", lambda v: store.write_metadata(metadata(v, None))),
        ("first: write_status (request)", lambda v: write_status(store.volume_dir(v), VolumeStatus(ISSUER_REQUEST))),
        ("first: write_files", lambda v: store.write_files(v, FILES, fs_group=None)),
        ("first: write_metadata (renewal)", lambda v: store.write_metadata(metadata(v, renew_at))),
        ("first: write_status (issued)", lambda v: write_status(store.volume_dir(v), issued)),
        ("renewal: write_files", lambda v: store.write_files(v, FILES, fs_group=None)),
        ("renewal: write_metadata", lambda v: store.write_metadata(metadata(v, renew_at + timedelta(hours=1)))),
        ("renewal: write_status", lambda v: write_status(store.volume_dir(v), VolumeStatus("bench-request-1"))),
        ("unpublish: remove_volume", store.remove_volume),
    ]


def _round(workdir: Path, *, volumes: int) -> dict[str, list[float]]:
    """CPU µs per call of each step over `volumes` volumes in a fresh store."""
    store = Store(data_root=workdir, mounter=SyscallMounter(), owner=Owner("csi.cert-manager.io"), tmpfs_size="256m")
    store.open()
    ids = ["csi-" + hashlib.sha256(f"{workdir}/{i}".encode()).hexdigest() for i in range(volumes)]
    try:
        return {name: _timed(ids, call)[0] for name, call in _steps(store)}
    finally:
        store.close()
        SyscallMounter().unmount(store.root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--volumes", type=int, default=2000, help="volumes per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--source", type=Path, help="measure the certcsi of this src directory (re-executes)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/store.py needs root: the store mounts a real tmpfs (in a private mount namespace)")
    if args.source is not None:
        os.environ["PYTHONPATH"] = str(args.source.resolve())
    reexec_in_mount_namespace()
    print(f"certcsi bench/store.py @ {git_describe()}; {machine_line()}")
    print(f"  measuring {Path(certcsi.__file__).parent}")
    totals: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        workdir = Path(tempfile.mkdtemp(prefix="certcsi-bench-store-"))
        try:
            for step, micros in _round(workdir, volumes=args.volumes).items():
                totals.setdefault(step, []).extend(micros)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    heading(f"CPU per call, {args.rounds} rounds of {args.volumes} volumes")
    sums: dict[str, float] = {}
    for step, micros in totals.items():
        mean = sum(micros) / len(micros)
        sums[step.split(":")[0]] = sums.get(step.split(":")[0], 0.0) + mean
        report(step, f"mean {mean:6.1f} µs, p50 {percentile(micros, 0.5):6.1f}, p99 {percentile(micros, 0.99):6.1f}")
    heading("CPU per operation (sum of its steps' means)")
    for operation, total in sums.items():
        report(operation, f"{total:6.1f} µs")


if __name__ == "__main__":
    main()
