"""One container of a pod on the sandbox node: start it, watch it, stop it, and say how it is (its status).

    ContainerState      the container's entry in pod.status.containerStatuses, kept current
    Placeholder         an image the node does not run: "running" with no process
    Process             certcsi as a local process (see certcsi.sandbox.launching), restarted as
                        restartPolicy says with kubelet's crash-loop back-off (10 s doubling to 5 min)
    Registrar           csi-node-driver-registrar's job done by the kubelet: once the driver answers
                        GetPluginInfo on its socket, the driver is registered under its name

Every change of state calls `changed()`, which the pod worker turns into a status update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import grpc

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.sandbox.kubelet.probing import Probe, run_readiness
from certcsi.sandbox.launching import LaunchSpec, Mount
from certcsi.sandbox.syscalls import holding_mount
from certcsi.timestamps import rfc3339

log = logging.getLogger(__name__)

CRASH_BACKOFF_BASE = 10.0
CRASH_BACKOFF_CAP = 300.0
# A container that ran this long without failing starts its back-off afresh (kubelet's rule).
CRASH_BACKOFF_RESET = 600.0


@dataclass
class ContainerState:
    """What kubelet reports of one container; `state` and `last_state` are the API's ContainerState shapes."""

    name: str
    image: str
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    container_id: str = ""

    @property
    def running(self) -> bool:
        return "running" in self.state

    def wait(self, reason: str, message: str = "") -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        self.ready = self.started = False

    def run(self, now: datetime, container_id: str) -> None:
        self.state = {"running": {"startedAt": rfc3339(now)}}
        self.container_id = container_id
        self.started = True

    def terminate(self, now: datetime, exit_code: int, *, reason: str | None = None) -> None:
        started = self.state.get("running", {}).get("startedAt")
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "finishedAt": rfc3339(now),
            "containerID": self.container_id,
        }
        if started:
            terminated["startedAt"] = started
        self.state = {"terminated": terminated}
        self.ready = self.started = False

    def to_api(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class Container(Protocol):
    state: ContainerState

    async def start(self) -> None: ...

    async def stop(self, grace: float) -> None: ...


@dataclass(frozen=True)
class ContainerContext:
    """What a running container needs from its pod worker."""

    now: Callable[[], datetime]
    changed: Callable[[], None]
    event: Callable[[str, str, str], None]  # (type, reason, message) on the pod
    restart_policy: str
    who: str  # <name>_<namespace>(<uid>), as kubelet names a pod in its messages


def announce_pulled_and_created(state: ContainerState, context: ContainerContext) -> None:
    """kubelet's events before a container starts: its image is present (nothing is pulled here), it is created."""
    context.event(
        "Normal", "Pulled", f'Container image "{state.image}" already present on machine and can be accessed by the pod'
    )
    context.event("Normal", "Created", f"Created container: {state.name}")


def announce_start(state: ContainerState, context: ContainerContext) -> None:
    announce_pulled_and_created(state, context)
    context.event("Normal", "Started", f"Started container {state.name}")


class Placeholder:
    """An image the node does not run: running from start() to stop(), ready when running."""

    def __init__(self, state: ContainerState, context: ContainerContext) -> None:
        self.state = state
        self._context = context

    async def start(self) -> None:
        announce_start(self.state, self._context)
        self.state.run(self._context.now(), "")
        self.state.ready = True
        self._context.changed()

    async def stop(self, grace: float) -> None:
        if self.state.running:
            self.state.terminate(self._context.now(), 0)
            self._context.changed()


def launch_problem(directory: Path) -> str | None:
    """Why this kubelet cannot start container processes with their roots in `directory`, or None when it can."""
    if os.geteuid() != 0:
        return "the sandbox node starts container processes only as root (they need mount namespaces)"
    point, shared = holding_mount(directory.parent if not directory.exists() else directory)
    if shared:
        return (
            f"the mount at {point} is shared: containers' mounts could appear outside the sandbox "
            "(certcsi sandbox up runs in a private mount namespace)"
        )
    return None


@dataclass(frozen=True)
class ProcessSpec:
    """A certcsi container's process: argv, environment, root directory, mounts and log directory."""

    argv: Sequence[str]
    env: Mapping[str, str]
    root: Path
    mounts: Sequence[Mount]
    log_dir: Path
    readiness: Probe | None = None


class Process:
    """A certcsi container as a local process, restarted as kubelet restarts containers."""

    def __init__(self, state: ContainerState, context: ContainerContext, spec: ProcessSpec) -> None:
        self.state = state
        self._context = context
        self._spec = spec
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"container {self.state.name}")

    async def _launch(self) -> asyncio.subprocess.Process:
        spec = self._spec
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        launch = LaunchSpec(root=str(spec.root), argv=list(spec.argv), mounts=list(spec.mounts))
        with (spec.log_dir / f"{self.state.restart_count}.log").open("ab") as sink:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "certcsi.sandbox.launching",
                launch.to_json(),
                env=dict(spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            started = self._context.now()
            announce_pulled_and_created(self.state, self._context)
            self._proc = await self._launch()
            self.state.run(started, f"sandbox://{self._proc.pid}")
            self.state.ready = self._spec.readiness is None
            self._context.event("Normal", "Started", f"Started container {self.state.name}")
            self._context.changed()
            probing = self._probe()
            try:
                code = await self._proc.wait()
            finally:
                if probing is not None:
                    probing.cancel()
            if self._stopping:
                return
            finished = self._context.now()
            self.state.terminate(finished, code)
            self._context.changed()
            policy = self._context.restart_policy
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            # kubelet restarts a container at once the first time, then backs off 10 s, 20 s, ... 5 min.
            failures = 0 if (finished - started).total_seconds() >= CRASH_BACKOFF_RESET else failures + 1
            delay = min(CRASH_BACKOFF_BASE * 2 ** (failures - 2), CRASH_BACKOFF_CAP) if failures > 1 else 0.0
            self.state.last_state = self.state.state
            self.state.restart_count += 1
            if delay:
                message = f"back-off {delay:g}s restarting failed container={self.state.name} pod={self._context.who}"
                self.state.wait("CrashLoopBackOff", message)
                self._context.event(
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {self.state.name} in pod {self._context.who}",
                )
                self._context.changed()
                await asyncio.sleep(delay)

    def _probe(self) -> asyncio.Task[None] | None:
        probe = self._spec.readiness
        if probe is None:
            return None

        def set_ready(ready: bool) -> None:
            self.state.ready = ready
            self._context.changed()

        def failed(message: str) -> None:
            self._context.event("Warning", "Unhealthy", message)

        return asyncio.create_task(run_readiness(probe, set_ready=set_ready, failed=failed))

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds, as kubelet stops a container."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if proc is not None and self.state.running:
            code = proc.returncode if proc.returncode is not None else -1
            self.state.terminate(self._context.now(), 128 + signal.SIGKILL if code < 0 else code)
            self._context.changed()


DriverRegistrar = Callable[[str, str], None]  # (driver name, endpoint) -> register; endpoint "" unregisters


class Registrar:
    """node-driver-registrar's part, done by the kubelet: ask the driver its name, then register its socket."""

    def __init__(
        self,
        state: ContainerState,
        context: ContainerContext,
        *,
        socket: Path,
        registration_endpoint: str,
        register: DriverRegistrar,
        poll: float = 0.2,
    ) -> None:
        self.state = state
        self._context = context
        self._socket = socket
        self._endpoint = registration_endpoint
        self._register = register
        self._poll = poll
        self._task: asyncio.Task[None] | None = None
        self._name = ""

    async def start(self) -> None:
        announce_start(self.state, self._context)
        self.state.run(self._context.now(), "")
        self._context.changed()
        self._task = asyncio.create_task(self._register_when_up(), name=f"registrar {self._socket}")

    async def _register_when_up(self) -> None:
        target = "unix://" + str(self._socket)
        async with grpc.aio.insecure_channel(target, options=[("grpc.default_authority", "localhost")]) as channel:
            identity = csi_pb2_grpc.IdentityStub(channel)
            while True:
                try:
                    info = await identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
                    break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(self._poll)
        self._name = info.name
        self._register(info.name, self._endpoint)
        self.state.ready = True
        self._context.changed()
        log.info("driver registered name=%s endpoint=%s", info.name, self._endpoint)

    async def stop(self, grace: float) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._name:
            self._register(self._name, "")
        if self.state.running:
            self.state.terminate(self._context.now(), 0)
            self._context.changed()
