"""`certcsi approver` as a real process against the sandbox: ready, decides, releases on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import aiohttp
from approver_sandbox_support import (
    APP_NAMESPACE,
    APPROVER_NAMESPACE,
    ApproverWorld,
    eventually,
    request_body,
    spiffe_id,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _status(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def test_the_command_approves_and_releases_its_lease_on_sigterm(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    ready_port, metrics_port = _free_port(), _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "certcsi", "approver",
        f"--kubeconfig={world.approver_kubeconfig}",
        f"--leader-election-namespace={APPROVER_NAMESPACE}",
        "--issuer-name=sandbox-ca",
        "--leader-election-lease-duration=2s",
        "--leader-election-renew-deadline=1s",
        "--leader-election-retry-period=250ms",
        f"--readiness-probe-bind-address=127.0.0.1:{ready_port}",
        f"--metrics-bind-address=127.0.0.1:{metrics_port}",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(300):
            if await _status(f"http://127.0.0.1:{ready_port}/readyz") == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the approver never became ready")
        await world.submit(request_body("alice-1", spiffe_id(APP_NAMESPACE, "alice")), token=alice)
        await eventually(lambda: world.ready_reason("alice-1") == "Issued")
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{metrics_port}/metrics") as got:
            text = await got.text()
        assert 'certcsi_approver_decisions_total{decision="approved",rule="approved"} 1.0' in text
        assert (world.lease() or {})["spec"]["holderIdentity"].startswith(socket.gethostname() + "_")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)

    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (world.lease() or {})["spec"]["holderIdentity"] == ""
    log = stderr.decode()
    assert "approved request" in log
    assert "released the leader election lease" in log
