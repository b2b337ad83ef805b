"""The cost of one pod's bind mount: read-only before it is attached vs. upstream's bind-then-remount.

SyscallMounter alone, no driver: `bind_readonly` onto a fresh target (kubelet's first publish: the target
missing, its parent made), `bind_readonly` again (a republish: the bind is there), `is_bind_of`, and
`unbind`, each timed per call in microseconds. Two ways to make the bind (the new mount API, the default;
mount(2) + remount, the fallback and upstream's way), each under a private pods directory and under one
shared with a peer mount (the DaemonSet's Bidirectional /var/lib/kubelet/pods: every bind is copied into
the host's peer too). Needs root; re-executes itself in a private mount namespace, so nothing outlives it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import git_describe, heading, machine_line, percentile, report
from publish import reexec_in_mount_namespace

from certcsi.volumes.mount import SyscallMounter

WAYS: dict[str, Callable[[], SyscallMounter]] = {
    "open_tree+mount_setattr+move_mount": SyscallMounter,
    "mount(2) bind + remount (upstream)": lambda: SyscallMounter(mount_api=None),
}


def _mount(*args: str | Path) -> None:
    subprocess.run(["mount", *map(str, args)], check=True)


@dataclass
class Samples:
    """Microseconds per call: wall clock, and CPU time of this thread (user + kernel; not time spent waiting,
    so a busy machine inflates it less)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def extend(self, other: Samples) -> None:
        self.wall.extend(other.wall)
        self.cpu.extend(other.cpu)

    def summary(self) -> str:
        wall, cpu = self.wall, self.cpu
        return (
            f"wall p50 {percentile(wall, 0.5):6.1f} µs, p99 {percentile(wall, 0.99):7.1f};"
            f"  cpu mean {sum(cpu) / len(cpu):6.1f} µs, p50 {percentile(cpu, 0.5):6.1f}"
        )


def _timed(calls: list[Callable[[], object]]) -> Samples:
    samples = Samples()
    for call in calls:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        call()
        samples.cpu.append((time.thread_time_ns() - cpu) / 1000)
        samples.wall.append((time.perf_counter_ns() - wall) / 1000)
    return samples


def _round(workdir: Path, mounter: SyscallMounter, *, volumes: int, shared: bool) -> dict[str, Samples]:
    fs, pods = workdir / "fs", workdir / "pods"
    mounter.mount_tmpfs(fs, size="64m")
    # On a tmpfs too: kubelet's directories are on its disk, but a disk shared with other work would
    # make the mkdir of each target, not the mount, the number measured.
    mounter.mount_tmpfs(pods, size="16m", mode=0o755)
    if shared:
        (workdir / "host").mkdir()
        _mount("--make-shared", pods)
        _mount("--bind", pods, workdir / "host")
    pairs = [(fs / f"v{i}" / "data", pods / f"p{i}" / "mount") for i in range(volumes)]
    for source, target in pairs:
        source.mkdir(parents=True)
        (source / "tls.crt").write_bytes(b"x" * 1500)
        target.parent.mkdir()
    try:
        return {
            "bind_readonly (first publish)": _timed([lambda s=s, t=t: mounter.bind_readonly(s, t) for s, t in pairs]),
            "bind_readonly (republish)": _timed([lambda s=s, t=t: mounter.bind_readonly(s, t) for s, t in pairs]),
            "is_bind_of": _timed([lambda s=s, t=t: mounter.is_bind_of(t, s) for s, t in pairs]),
            "unbind": _timed([lambda s=s, t=t: mounter.unbind(s, t) for s, t in pairs]),
        }
    finally:
        for point in (workdir / "host", pods, fs):
            mounter.unmount(point)  # nothing mounted at `host` unless shared: a no-op then


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--volumes", type=int, default=200, help="binds per round and case (default 200)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/mount.py needs root: it makes real mounts (in a private mount namespace)")
    reexec_in_mount_namespace()
    print(f"certcsi bench/mount.py @ {git_describe()}; {machine_line()}; kernel {os.uname().release}")
    # Rounds interleave the four cases, so that a load that comes and goes weighs on all of them alike.
    cases = [(shared, way) for shared in (False, True) for way in WAYS]
    totals: dict[tuple[bool, str], dict[str, Samples]] = {case: {} for case in cases}
    for _ in range(args.rounds):
        for shared, way in cases:
            workdir = Path(tempfile.mkdtemp(prefix="certcsi-bench-mount-"))
            try:
                for step, micros in _round(workdir, WAYS[way](), volumes=args.volumes, shared=shared).items():
                    totals[shared, way].setdefault(step, Samples()).extend(micros)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    for shared, way in cases:
        heading(f"{way}; pods directory {'shared with a peer' if shared else 'private'}")
        for step, micros in totals[shared, way].items():
            report(step, micros.summary())


if __name__ == "__main__":
    main()
