"""A driver process the benchmark stops and starts itself, and the moments a restarted driver serves and is ready.

Serving: a CSI Probe answered OK on the socket (what kubelet's plugin watcher and the livenessprobe
sidecar need). Ready: the driver's /readyz answers 200 (the CertificateRequest watch has listed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
from _lifecycle import py_spy

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc

POLL_SECONDS = 0.005  # both waits poll this often: the figures they give are this precise


@dataclass(frozen=True)
class Started:
    """One start of the driver, each moment in seconds after its exec."""

    serving: float
    ready: float


class RestartableDriver:
    """`args` as a child process, stopped with SIGTERM or SIGKILL and started again on the same socket.

    Output goes to `log` (appended to across starts). The process left running is terminated on exit.
    """

    def __init__(self, args: Sequence[str], *, endpoint: str, readyz: str, log: Path) -> None:
        self._args = list(args)
        self._socket = endpoint.removeprefix("unix://")
        self._endpoint = endpoint
        self._readyz = readyz
        self._log = log
        self.proc: asyncio.subprocess.Process | None = None
        self._profiled = False

    @property
    def pid(self) -> int:
        """The driver's pid (under py-spy, py-spy's child)."""
        assert self.proc is not None
        if not self._profiled:
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0]) if children else self.proc.pid

    async def start(self, *, timeout: float = 120.0, profile: Path | None = None) -> Started:
        """Exec the driver; return when its Probe answers OK and its /readyz 200 (seconds after the exec).

        `profile`: run it under py-spy (PyPI), raw collapsed stacks to that file from its first instruction;
        py-spy writes them when the driver exits.
        """
        args = self._args
        if profile is not None:
            spy = py_spy() or "py-spy"
            args = [spy, "record", "--rate", "250", "--format", "raw", "--output", str(profile), "--", *args]
        self._profiled = profile is not None
        with self._log.open("ab") as sink:
            began = time.perf_counter()
            self.proc = await asyncio.create_subprocess_exec(*args, stdout=sink, stderr=sink)
        deadline = began + timeout
        await self._until_probe_ok(deadline)
        serving = time.perf_counter() - began
        await self._until_ready(deadline)
        return Started(serving=serving, ready=time.perf_counter() - began)

    async def stop(self, how: signal.Signals, *, timeout: float = 30.0) -> float:
        """Send `how` and wait for the exit; seconds until it exited."""
        assert self.proc is not None
        began = time.perf_counter()
        # Under py-spy, the driver is its child: py-spy writes its profile once the driver has exited.
        os.kill(self.pid, how)
        await asyncio.wait_for(self.proc.wait(), timeout)
        return time.perf_counter() - began

    def _alive(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is not None:
            raise RuntimeError(f"the driver exited with code {self.proc.returncode}; see {self._log}")

    async def _until_probe_ok(self, deadline: float) -> None:
        # A raw connect first: a grpc channel to a socket not listening yet backs off for a second.
        while not _accepts(self._socket):
            self._alive()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self._socket} did not accept a connection")
            await asyncio.sleep(POLL_SECONDS)
        async with grpc.aio.insecure_channel(self._endpoint, options=[("grpc.default_authority", "localhost")]) as ch:
            identity = csi_pb2_grpc.IdentityStub(ch)
            while True:
                self._alive()
                try:
                    await identity.Probe(csi_pb2.ProbeRequest(), timeout=5)
                    return
                except grpc.aio.AioRpcError:
                    if time.perf_counter() > deadline:
                        raise
                    await asyncio.sleep(POLL_SECONDS)

    async def _until_ready(self, deadline: float) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                self._alive()
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self._readyz) as response:
                        if response.status == 200:
                            return
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"{self._readyz} did not answer 200")
                await asyncio.sleep(POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Started]:
        """Started for the block; terminated (killed after 10 s) when it ends."""
        try:
            yield await self.start()
        finally:
            if self.proc is not None and self.proc.returncode is None:
                self.proc.terminate()
                try:
                    await asyncio.wait_for(self.proc.wait(), 10)
                except TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()


def _accepts(path: str) -> bool:
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:  # refused: a socket file the killed driver left, not listened on yet
            return False
    return True
