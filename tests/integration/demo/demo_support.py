"""Runs `certcsi sandbox demo` as the user would, and checks what every demo run must leave behind.

The demo is a subprocess: as root it re-executes itself in a private mount namespace (or, under
scripts/test, shares the test run's), so its tmpfs and bind mounts never reach the host's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORKDIR = re.compile(r"/tmp/certcsi-demo-[A-Za-z0-9_]+")


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return [line.strip() for line in self.stdout.splitlines()]

    def has_line(self, text: str) -> bool:
        return text in self.lines()

    def workdirs(self) -> set[str]:
        return set(WORKDIR.findall(self.stdout))


def run_demo(*flags: str, timeout: float = 60.0) -> DemoRun:
    result = subprocess.run(
        [sys.executable, "-m", "certcsi", "sandbox", "demo", *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return DemoRun(returncode=result.returncode, stdout=result.stdout, stderr=result.stderr)


def mounts_under(prefix: str) -> list[str]:
    """Mount points in this process's mount namespace below `prefix` (field 5 of mountinfo)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [fields[4] for fields in (line.split() for line in lines) if fields[4].startswith(prefix)]


def assert_clean_exit(run: DemoRun) -> None:
    """Exit 0, no traceback anywhere, the last step reached, the work directory and every mount gone."""
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert re.search(r"\] \d+\. Done: ", run.stdout), run.stdout[-2000:]
    workdirs = run.workdirs()
    assert len(workdirs) == 1, workdirs
    [workdir] = workdirs
    assert not Path(workdir).exists()
    assert mounts_under(workdir) == []


def assert_openssl_verified(run: DemoRun, *, count: int) -> None:
    """`count` external `openssl verify` checks, each OK (or skipped where openssl is not installed)."""
    checks = [line for line in run.lines() if line.startswith("openssl verify: ")]
    assert len(checks) == count, checks
    for line in checks:
        assert line.endswith(": OK") or line.endswith("skipped the external check"), line
