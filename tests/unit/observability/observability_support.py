"""Fakes for the observability unit tests: an issuer that signs at once (or denies), a recording observer."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from publish_requests import volume_context

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import IssuanceDenied
from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.signing import certificate_pem, create_ca, sign_csr
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Issued, RequestPlan, Volume, VolumeWarning
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.reporting import IssuanceDone, IssuanceObserver
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")

START = datetime(2026, 3, 1, tzinfo=UTC)
CA_KEY, CA_CERT = create_ca(common_name="observability test CA", now=START - timedelta(days=1))
POD_UID = "6f1c0f6e-0000-4000-8000-0000000000aa"


@dataclass
class SigningIssuance:
    """Answers every request at once: signed by the test CA, or denied while `deny` is set."""

    clock: FakeClock
    created: list[tuple[str, RequestPlan]] = field(default_factory=list)
    deny: bool = False

    async def create(self, volume: Volume, plan: RequestPlan) -> str:
        name = f"req-{len(self.created)}"
        self.created.append((name, plan))
        return name

    async def wait_ready(self) -> None:
        return None

    def pending(self, volume: Volume) -> str | None:
        return None

    async def cleanup(self, volume: Volume) -> None:
        return None

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        if self.deny:
            raise IssuanceDenied(f'request "{name}" has been denied by the approval plugin: not on my watch')
        plan = dict(self.created)[name]
        cert = sign_csr(
            ca_key=CA_KEY,
            ca_cert=CA_CERT,
            csr=load_csr(plan.csr_pem),
            duration=plan.duration or timedelta(hours=1),
            usages=plan.usages,
            is_ca=False,
            now=self.clock.now(),
        )
        return Issued(
            certificate_pem=certificate_pem(cert),
            ca_pem=certificate_pem(CA_CERT),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            request_name=name,
        )


@dataclass
class RecordingObserver:
    calls: list[tuple[str, object]] = field(default_factory=list)

    def issuing(self, volume: Volume) -> None:
        self.calls.append(("issuing", volume.volume_id))

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        self.calls.append(("issued", done))

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        self.calls.append(("failed", (type(error).__name__, request_name, first)))

    def forgotten(self, volume_id: str) -> None:
        self.calls.append(("forgotten", volume_id))

    def warned(self, volume: Volume, warnings: Sequence[VolumeWarning]) -> None:
        self.calls.append(("warned", tuple(warnings)))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


def context(**attrs: str) -> dict[str, str]:
    return volume_context(pod_uid=POD_UID, issuer_kind="ClusterIssuer", **attrs)


@dataclass
class Engine:
    manager: Manager
    issuance: SigningIssuance
    observer: RecordingObserver
    store: Store
    mounter: FakeMounter
    clock: FakeClock
    root: Path

    def target(self, name: str = "v1") -> str:
        path = self.root / "pods" / name / "mount"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def restarted(self) -> Engine:
        store = Store(data_root=self.root / "data", mounter=self.mounter, owner=CSI_OWNER)
        observer = RecordingObserver()
        manager = build_manager(store, self.mounter, self.issuance, self.clock, observer)
        return Engine(manager, self.issuance, observer, store, self.mounter, self.clock, self.root)


def build_manager(
    store: Store, mounter: FakeMounter, issuance: SigningIssuance, clock: FakeClock, observer: IssuanceObserver
) -> Manager:
    return Manager(
        driver=CertManagerDriver(),
        store=store,
        mounter=mounter,
        issuance=issuance,
        clock=clock,
        rate=RateBudget(qps=1000, burst=1000, clock=clock),
        rng=random.Random(3),
        observer=observer,
    )


def new_engine(root: Path) -> Engine:
    clock = FakeClock(START)
    mounter = FakeMounter()
    store = Store(data_root=root / "data", mounter=mounter, owner=CSI_OWNER)
    issuance = SigningIssuance(clock)
    observer = RecordingObserver()
    return Engine(
        build_manager(store, mounter, issuance, clock, observer), issuance, observer, store, mounter, clock, root
    )


async def settle() -> None:
    """Let the scheduler's tasks run after a clock advance."""
    for _ in range(50):
        await asyncio.sleep(0)


def request_certificate(*, issued: datetime, duration: timedelta) -> tuple[str, datetime]:
    """(status.certificate as a CertificateRequest carries it, its not-after): a P-256 leaf of the test CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = sign_csr(
        ca_key=CA_KEY,
        ca_cert=CA_CERT,
        csr=load_csr(build_csr(key, CsrSpec(dns_names=("a.example",)))),
        duration=duration,
        usages=("digital signature",),
        is_ca=False,
        now=issued,
    )
    return base64.b64encode(certificate_pem(cert)).decode(), cert.not_valid_after_utc
