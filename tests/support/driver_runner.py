"""`certcsi driver` as a child process (sandbox.demo.driver_process), restartable after SIGKILL on the same
socket and data root: what the end-to-end tests and the soak benchmark both drive."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from waiting import eventually

from certcsi.sandbox.demo import DRIVER, Progress, driver_process

__all__ = ["DriverRunner"]


class DriverRunner:
    """One driver process at a time; every run's output is kept (`logs`)."""

    def __init__(self, *, workdir: Path, kubeconfig: Path, extra_args: Sequence[str] = ()) -> None:
        self._workdir = workdir
        self._kubeconfig = kubeconfig
        self._extra_args = tuple(extra_args)
        self._stack: contextlib.AsyncExitStack | None = None
        self.endpoint = ""
        self.pid = 0
        self.starts = 0

    @property
    def socket_path(self) -> Path:
        return self._workdir / "plugins" / DRIVER / "csi.sock"

    @property
    def log_path(self) -> Path:
        return self._workdir / "driver.log"

    def logs(self) -> bytes:
        """Everything every run of the driver wrote to stdout and stderr."""
        earlier = sorted(self._workdir.glob("driver-run-*.log"))
        current = [self.log_path] if self.log_path.exists() else []
        return b"".join(path.read_bytes() for path in [*earlier, *current])

    async def start(self) -> float:
        """Start it; returns the seconds until its CSI Probe answered."""
        if self._stack is not None:
            raise RuntimeError("driver already running")
        if self.log_path.exists():  # driver_process truncates it: keep the previous run's output
            self.log_path.rename(self._workdir / f"driver-run-{self.starts}.log")
        # driver_process creates the socket directory afresh; the stale socket inside is the dead run's.
        shutil.rmtree(self.socket_path.parent, ignore_errors=True)
        began = time.monotonic()
        stack = contextlib.AsyncExitStack()
        running = await stack.enter_async_context(
            driver_process(
                workdir=self._workdir,
                kubeconfig=self._kubeconfig,
                unsafe=False,
                progress=Progress(lambda _line: None),
                extra_args=self._extra_args,
            )
        )
        self.endpoint, self.pid = running.endpoint, running.pid
        self._stack = stack
        self.starts += 1
        return time.monotonic() - began

    async def stop(self) -> None:
        """SIGTERM and wait (what driver_process does on exit)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def kill9(self) -> int:
        """SIGKILL the serving process, wait until it is reaped, then forget it. Returns its pid."""
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what=f"driver pid {pid} reaped")
        await self.stop()  # returncode is known by now: nothing is signalled again
        return pid
