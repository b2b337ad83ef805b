"""Against the sandbox: /readyz waits for the volume state and the request watch; /healthz notices a dead watch."""

from __future__ import annotations

from pathlib import Path

from obs_node_support import observed_node


async def test_readyz_turns_ready_once_state_is_loaded_and_requests_are_listed(tmp_path: Path) -> None:
    async with observed_node(tmp_path, start=False) as node:
        assert await node.get("/healthz") == (200, "ok")
        assert await node.get("/readyz") == (503, "volume state not loaded yet")
        await node.issuance.start(wait_synced=False)
        await node.manager.start()
        for _ in range(200):
            status, _ = await node.get("/readyz")
            if status == 200:
                break
        assert await node.get("/readyz") == (200, "ok")
        assert node.telemetry.requests.synced


async def test_healthz_fails_when_the_request_watch_has_stopped(tmp_path: Path) -> None:
    async with observed_node(tmp_path) as node:
        assert await node.get("/healthz") == (200, "ok")
        await node.issuance.stop()
        assert await node.get("/healthz") == (503, "the CertificateRequest watch has stopped")
        status, _ = await node.get("/readyz")
        assert status == 503
