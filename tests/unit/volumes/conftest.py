"""Shared helpers for the engine's unit tests.

Tests marked `real_mounts` really call mount(2). They only ever run inside a private mount
namespace: when the session is not in one (CERTCSI_IN_MOUNT_NS unset, as under a bare `pytest`),
the first such test of a module re-runs that whole module under
`unshare --mount --propagation private` and every marked test reports its own inner outcome.
Nothing is skipped, and nothing is ever mounted in the host's namespace.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from _pytest.reports import TestReport
from _pytest.runner import CallInfo

from certcsi.volumes.mount import FakeMounter, SyscallMounter, read_mountinfo
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")

REPO = Path(__file__).resolve().parents[3]
_ENV = "CERTCSI_IN_MOUNT_NS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_mounts: calls mount(2); runs only in a private mount namespace")


def _mount_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _unshared_from_an_ancestor() -> bool:
    """True when some ancestor process (whose namespace we may read) lives in another mount namespace."""
    ours = _mount_ns("self")
    pid = os.getppid()
    while pid > 1:
        theirs = _mount_ns(pid)
        if theirs is not None and theirs != ours:
            return True
        try:
            pid = _parent(pid)
        except (OSError, ValueError, IndexError):
            return False
    return False


def in_private_mount_namespace() -> bool:
    """True when this process may mount: told so by the environment AND really unshared.

    The environment alone is not trusted: `CERTCSI_IN_MOUNT_NS=1 pytest` in the host's namespace
    would otherwise mount there. (PID 1's namespace is not always readable, so ancestors are used.)
    """
    return bool(os.environ.get(_ENV)) and _unshared_from_an_ancestor()


@dataclass(frozen=True)
class _Outcome:
    passed: bool
    detail: str


_results: dict[Path, dict[str, _Outcome]] = {}


def _run_module_in_namespace(module: Path) -> dict[str, _Outcome]:
    if module in _results:
        return _results[module]
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare.insert(1, "--map-root-user")  # an unprivileged user namespace may still mount
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [
            *unshare,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            str(module),
        ]
        proc = subprocess.run(
            cmd, cwd=REPO, env={**os.environ, _ENV: "1"}, capture_output=True, text=True, timeout=300, check=False
        )
        outcomes: dict[str, _Outcome] = {}
        if report.exists():
            for case in ET.parse(report).getroot().iter("testcase"):
                bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
                detail = "\n".join(f"{c.tag}: {c.get('message', '')}\n{c.text or ''}" for c in bad)
                outcomes[case.get("name", "")] = _Outcome(passed=not bad, detail=detail)
        if not outcomes:
            outcomes[""] = _Outcome(False, f"{' '.join(cmd)} -> rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    _results[module] = outcomes
    return outcomes


def _inner_outcome(item: pytest.Item) -> None:
    if os.environ.get(_ENV):
        pytest.fail(f"{_ENV} is set but no ancestor is in another mount namespace; refusing to mount", pytrace=False)
    outcomes = _run_module_in_namespace(item.path)
    outcome = outcomes.get(item.name)
    if outcome is None:
        fallback = outcomes.get("", _Outcome(False, "no result"))
        pytest.fail(f"did not run inside the private mount namespace:\n{fallback.detail}", pytrace=False)
    if not outcome.passed:
        pytest.fail(f"failed inside the private mount namespace:\n{outcome.detail}", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Outside a private namespace, a `real_mounts` test reports its inner outcome and sets up NO
    fixture here (fixtures may mount too)."""
    if item.get_closest_marker("real_mounts") is None or in_private_mount_namespace():
        return None
    hook = item.ihook
    hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    phases: list[tuple[Literal["setup", "call", "teardown"], Callable[[], None]]] = [
        ("setup", lambda: None),
        ("call", lambda: _inner_outcome(item)),
        ("teardown", lambda: None),
    ]
    for when, run in phases:
        call = CallInfo.from_call(run, when=when)
        hook.pytest_runtest_logreport(report=TestReport.from_item_and_call(item, call))
    hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.fixture
def settle() -> Callable[[], Awaitable[None]]:
    """Let every ready task run until the loop has nothing left to do right now."""

    async def _settle() -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    return _settle


@pytest.fixture
def fake_mounter() -> FakeMounter:
    return FakeMounter()


@pytest.fixture
def store(tmp_path: Path, fake_mounter: FakeMounter) -> Store:
    """An opened store on a plain directory, with an in-memory mount table."""
    s = Store(data_root=tmp_path / "csi-data-dir", mounter=fake_mounter, owner=CSI_OWNER)
    s.open()
    return s


@pytest.fixture
def mounter(tmp_path: Path) -> Iterator[SyscallMounter]:
    """The real mounter (for `real_mounts` tests); everything mounted beneath tmp_path goes afterwards."""
    m = SyscallMounter()
    yield m
    root = os.path.realpath(tmp_path)
    for point in sorted({e.mount_point for e in read_mountinfo()}, key=len, reverse=True):
        if point.startswith(root + "/"):
            m.unmount(point)


@pytest.fixture
def fs(tmp_path: Path, mounter: SyscallMounter) -> Path:
    """A small tmpfs holding a `src` directory with one file."""
    path = tmp_path / "fs"
    mounter.mount_tmpfs(path, size="1m")
    (path / "src").mkdir()
    (path / "src" / "tls.crt").write_bytes(b"CERT")
    return path
