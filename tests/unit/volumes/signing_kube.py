"""A pretend cert-manager on the test's clock over the in-memory API, and one driver process over it
(shared by the restart and take-over tests)."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from test_issuance_support import FakeKube

from certcsi.durations import parse_go_duration
from certcsi.errors import KubernetesError
from certcsi.pki.csr import load_csr
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Driver
from certcsi.volumes.issuance import Issuance
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

START = datetime(2026, 2, 1, tzinfo=UTC)
CA_KEY, CA_CERT = create_ca(common_name="restart test CA", now=START - timedelta(days=1))
CA_B64 = base64.b64encode(CA_CERT.public_bytes(Encoding.PEM)).decode()
UNREACHABLE = KubernetesError("cannot reach the Kubernetes API at https://api: Connection refused", status=None)


class SigningKube(FakeKube):
    """cert-manager on the test's clock: each new request is issued (or denied) right after it is created."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.deny = False

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        created = await super().create_certificate_request(namespace, body, token=token)
        asyncio.get_running_loop().call_soon(self._decide, namespace, created["metadata"]["name"])
        return created

    def _decide(self, namespace: str, name: str) -> None:
        if (namespace, name) not in self.objects:
            return
        if self.deny:
            self.set_conditions(namespace, name, ("Denied", "True", "policy", "not today"))
            return
        spec = self.objects[(namespace, name)]["spec"]
        cert = sign_csr(
            ca_key=CA_KEY,
            ca_cert=CA_CERT,
            csr=load_csr(base64.b64decode(spec["request"])),
            duration=parse_go_duration(spec["duration"]),
            usages=(),
            is_ca=False,
            now=self.clock.now(),
        )
        self.set_conditions(
            namespace,
            name,
            ("Approved", "True", "cert-manager.io", "approved"),
            ("Ready", "True", "Issued", "issued"),
            certificate=base64.b64encode(cert.public_bytes(Encoding.PEM)).decode(),
            ca=CA_B64,
        )


@dataclass
class Processes:
    """Driver processes of one node over `<root>/data`, which outlives them; started and stopped as a test needs."""

    root: Path
    clock: FakeClock
    kube: SigningKube
    mounter: FakeMounter
    running: list[tuple[Issuance, Manager]] = field(default_factory=list)

    async def start_driver(self, driver: Driver, *, use_token_request: bool, seed: int) -> Manager:
        """One driver process as the node plugin starts it: the watch does not hold up serving CSI."""
        issuance = Issuance(kube=self.kube, node_id="node-1", clock=self.clock)
        manager = Manager(
            driver=driver,
            store=Store(data_root=self.root / "data", mounter=self.mounter, owner=Owner.of(driver)),
            mounter=self.mounter,
            issuance=issuance,
            clock=self.clock,
            rate=RateBudget(qps=1000, burst=1000, clock=self.clock),
            use_token_request=use_token_request,
            rng=random.Random(seed),
        )
        await issuance.start(wait_synced=False)
        await manager.start()
        self.running.append((issuance, manager))
        return manager

    async def kill(self) -> None:
        """Stop the process started last."""
        issuance, manager = self.running.pop()
        await manager.stop()
        await issuance.stop()

    async def stop_all(self) -> None:
        while self.running:
            await self.kill()
