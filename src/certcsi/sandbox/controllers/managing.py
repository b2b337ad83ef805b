"""The workload controllers together, on one connection: `start()`, `await stop()`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from certcsi.kube._http import HttpTransport
from certcsi.kube.config import open_transport
from certcsi.sandbox.controllers.daemonsets import DaemonSetController
from certcsi.sandbox.controllers.deployments import DeploymentController


class ControllerManager:
    def __init__(self, *, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._transport: HttpTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._transport = open_transport(
            kubeconfig=str(self._kubeconfig), qps=0, burst=1, user_agent="certcsi-sandbox-controller-manager"
        )
        daemonsets = DaemonSetController(self._transport)
        deployments = DeploymentController(self._transport)
        runs = [
            *(informer.run() for controller in (daemonsets, deployments) for informer in controller.informers()),
            daemonsets.queue.run(),
            deployments.queue.run(),
        ]
        self._tasks = [asyncio.create_task(run, name="controller-manager") for run in runs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._transport is not None:
            await self._transport.close()
            self._transport = None
