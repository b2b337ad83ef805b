"""The engine's lifecycle with fakes at every boundary: publish, republish, renew, fail, restart."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from publish_requests import Req, volume_context

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import InvalidVolume, InvalidVolumeAttribute, IssuanceDenied, IssuanceTimeout
from certcsi.pki.csr import load_csr
from certcsi.pki.signing import certificate_pem, create_ca, sign_csr
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Issued, RequestPlan, Volume
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter, Mounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.status import read_status
from certcsi.volumes.store import Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")

START = datetime(2026, 1, 1, tzinfo=UTC)
CA_KEY, CA_CERT = create_ca(common_name="test CA", now=START - timedelta(days=1))


@dataclass
class FakeIssuance:
    """Signs at once (or fails, or never answers) and records every request it was asked for."""

    clock: FakeClock
    created: list[tuple[str, RequestPlan]] = field(default_factory=list)
    deny: bool = False
    hang: bool = False
    answered: set[str] = field(default_factory=set)
    cleaned: list[str] = field(default_factory=list)
    # Set: cleanup() waits on it, as a delete would while the API server is unreachable.
    cleanup_blocked: asyncio.Event | None = None
    # Set: wait_ready() waits on it, as it does until the requests watch has listed (renewals wait for it).
    listed: asyncio.Event | None = None
    # The target path given: wait() records whether it was mounted while the issuer signed.
    target: str | None = None
    mounted_while_signing: list[bool] = field(default_factory=list)
    mounter: FakeMounter | None = None
    on_wait: Callable[[], None] | None = None

    async def create(self, volume: Volume, plan: RequestPlan) -> str:
        name = f"req-{len(self.created)}"
        self.created.append((name, plan))
        return name

    async def wait_ready(self) -> None:
        if self.listed is not None:
            await self.listed.wait()

    def pending(self, volume: Volume) -> str | None:
        names = [n for n, _ in self.created if n not in self.answered]
        return names[-1] if names else None

    async def cleanup(self, volume: Volume) -> None:
        if self.cleanup_blocked is not None:
            await self.cleanup_blocked.wait()
        self.cleaned.append(volume.volume_id)

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        if self.target is not None and self.mounter is not None:
            self.mounted_while_signing.append(self.mounter.is_mount_point(self.target))
        if self.on_wait is not None:
            self.on_wait()
        if self.hang:
            raise IssuanceTimeout(f'waiting for request "{name}" timed out')
        self.answered.add(name)
        if self.deny:
            raise IssuanceDenied(f'request "{name}" has been denied by the approval plugin: no')
        plan = dict(self.created)[name]
        now = self.clock.now()
        cert = sign_csr(
            ca_key=CA_KEY,
            ca_cert=CA_CERT,
            csr=load_csr(plan.csr_pem),
            duration=plan.duration or timedelta(hours=1),
            usages=plan.usages,
            is_ca=False,
            now=now,
        )
        return Issued(
            certificate_pem=certificate_pem(cert),
            ca_pem=certificate_pem(CA_CERT),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            request_name=name,
        )


def context(**attrs: str) -> dict[str, str]:
    return volume_context(**attrs)


@dataclass
class Rig:
    manager: Manager
    issuance: FakeIssuance
    mounter: FakeMounter
    store: Store
    clock: FakeClock
    root: Path

    def target(self, name: str = "v1") -> str:
        path = self.root / "pods" / name / "mount"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def restart(self) -> Rig:
        store = Store(data_root=self.root / "data", mounter=self.mounter, owner=CSI_OWNER)
        manager = make_manager(store, self.mounter, self.issuance, self.clock)
        return Rig(manager, self.issuance, self.mounter, store, self.clock, self.root)


def make_manager(store: Store, mounter: Mounter, issuance: FakeIssuance, clock: FakeClock) -> Manager:
    return Manager(
        driver=CertManagerDriver(),
        store=store,
        mounter=mounter,
        issuance=issuance,
        clock=clock,
        rate=RateBudget(qps=1000, burst=1000, clock=clock),
        rng=random.Random(7),
    )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock(START)
    mounter = FakeMounter()
    store = Store(data_root=tmp_path / "data", mounter=mounter, owner=CSI_OWNER)
    issuance = FakeIssuance(clock)
    manager = make_manager(store, mounter, issuance, clock)
    await manager.start()
    yield Rig(manager, issuance, mounter, store, clock, tmp_path)
    await manager.stop()


async def test_publish_writes_key_and_certificate_for_the_pod(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    cert = x509.load_pem_x509_certificate(rig.store.read_file("vol-1", "tls.crt") or b"")
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["app-0.team.svc"]
    assert b"PRIVATE KEY" in (rig.store.read_file("vol-1", "tls.key") or b"")
    assert rig.mounter.is_bind_of(target, rig.store.data_dir("vol-1"))
    meta = rig.store.read_metadata("vol-1")
    assert meta is not None and meta.next_issuance_time is not None


async def test_republish_issues_nothing_new(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    await rig.manager.publish(Req("vol-1", target, context()))
    assert len(rig.issuance.created) == 1


async def test_concurrent_publishes_of_one_volume_make_one_request_and_both_see_files(rig: Rig) -> None:
    target = rig.target()
    await asyncio.gather(*(rig.manager.publish(Req("vol-1", target, context())) for _ in range(5)))
    assert len(rig.issuance.created) == 1
    assert rig.store.read_file("vol-1", "tls.crt")


async def test_invalid_attribute_leaves_nothing_behind(rig: Rig) -> None:
    target = rig.target()
    with pytest.raises(InvalidVolumeAttribute, match="key-size"):
        await rig.manager.publish(Req("vol-1", target, context(key_size="123")))
    assert rig.issuance.created == []
    assert rig.store.list_volume_ids() == []
    assert not Path(target).exists()


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (Req("vol-1", "/t", context(), readonly=False), "readOnly must be set to 'true'"),
        (Req("vol-1", "/t", {**context(), "csi.storage.k8s.io/ephemeral": "false"}), "ephemeral"),
    ],
)
async def test_non_ephemeral_or_writable_volume_is_refused(rig: Rig, req: Req, message: str) -> None:
    with pytest.raises(InvalidVolume, match=message):
        await rig.manager.publish(req)
    assert rig.issuance.created == []


async def test_denied_first_publish_cleans_up_everything(rig: Rig) -> None:
    rig.issuance.deny = True
    target = rig.target()
    with pytest.raises(IssuanceDenied):
        await rig.manager.publish(Req("vol-1", target, context()))
    assert rig.store.list_volume_ids() == []
    assert not rig.mounter.is_mount_point(target)


async def test_the_target_is_mounted_while_the_issuer_signs_and_answered_only_with_the_files(rig: Rig) -> None:
    target = rig.target()
    rig.issuance.target, rig.issuance.mounter = target, rig.mounter
    await rig.manager.publish(Req("vol-1", target, context()))
    assert rig.issuance.mounted_while_signing == [True]
    assert rig.store.read_file("vol-1", "tls.crt") is not None


async def test_a_first_publish_cut_short_after_its_mount_gets_its_certificate_before_kubelet_is_answered(
    rig: Rig,
) -> None:
    """A driver killed between the mount and the files leaves pending metadata, the bind and no files; the
    restarted driver keeps the volume (it is mounted), and kubelet retries the publish it never had answered."""
    target = rig.target()
    rig.store.write_metadata(
        Metadata(volume_id="vol-1", target_path=target, next_issuance_time=None, volume_context=context())
    )
    rig.mounter.bind_readonly(rig.store.data_dir("vol-1"), target)
    await rig.manager.stop()
    restarted = rig.restart()
    rig.issuance.listed = asyncio.Event()  # renewals wait for the watch: only the retried publish can issue
    await restarted.manager.start()
    try:
        await restarted.manager.publish(Req("vol-1", target, context()))
        assert restarted.store.read_file("vol-1", "tls.crt") is not None
        assert len(rig.issuance.created) == 1
        assert restarted.mounter.is_bind_of(target, restarted.store.data_dir("vol-1"))
    finally:
        await restarted.manager.stop()


async def test_a_failed_issuance_after_the_mount_leaves_nothing_behind(rig: Rig) -> None:
    target = rig.target()
    rig.issuance.target, rig.issuance.mounter = target, rig.mounter
    rig.issuance.hang = True
    with pytest.raises(IssuanceTimeout):
        await rig.manager.publish(Req("vol-1", target, context()))
    assert rig.issuance.mounted_while_signing == [True]
    assert not rig.mounter.is_mount_point(target) and not Path(target).exists()
    assert rig.store.list_volume_ids() == []


async def test_each_first_publish_attempt_shows_the_failures_of_the_earlier_ones(rig: Rig) -> None:
    target = rig.target()
    rig.issuance.deny = True
    seen: list[int] = []
    rig.issuance.on_wait = lambda: seen.append(read_status(rig.store.volume_dir("vol-1")).failures)  # type: ignore[union-attr]
    for _ in range(3):
        with pytest.raises(IssuanceDenied):
            await rig.manager.publish(Req("vol-1", target, context()))
    assert seen == [0, 1, 2]  # status.json, as `inspect` reads it while the attempt waits for the issuer


async def test_timed_out_publish_resumes_the_pending_request_on_retry(rig: Rig) -> None:
    target = rig.target()
    rig.issuance.hang = True
    with pytest.raises(IssuanceTimeout):
        await rig.manager.publish(Req("vol-1", target, context()))
    rig.issuance.hang = False
    await rig.manager.publish(Req("vol-1", target, context()))
    assert len(rig.issuance.created) == 1  # resumed, not re-created


async def test_renewal_fires_from_the_scheduler_and_swaps_the_pair(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    first = rig.store.read_file("vol-1", "tls.crt")
    rig.clock.advance(3600 * 2 / 3 + 1)  # past two thirds of the one-hour lifetime
    for _ in range(50):
        await asyncio.sleep(0)
        if len(rig.issuance.created) == 2 and rig.store.read_file("vol-1", "tls.crt") != first:
            break
    assert len(rig.issuance.created) == 2
    assert rig.store.read_file("vol-1", "tls.crt") != first


async def test_failed_renewal_keeps_the_live_volume(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    before = rig.store.read_file("vol-1", "tls.crt")
    rig.issuance.deny = True
    rig.clock.advance(3600)
    for _ in range(50):
        await asyncio.sleep(0)
    assert rig.store.read_file("vol-1", "tls.crt") == before
    assert rig.mounter.is_bind_of(target, rig.store.data_dir("vol-1"))
    row = rig.manager.status()[0]
    assert "denied" in str(row["last_error"])


async def test_unpublish_is_idempotent_and_removes_everything(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    assert rig.store.list_volume_ids() == []
    assert not Path(target).exists()


async def test_restart_resumes_without_reissuing_a_valid_certificate(rig: Rig) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    await rig.manager.stop()
    restarted = rig.restart()
    await restarted.manager.start()
    try:
        await restarted.manager.publish(Req("vol-1", target, context()))
        assert len(rig.issuance.created) == 1
        assert restarted.manager.status()[0]["volume_id"] == "vol-1"
    finally:
        await restarted.manager.stop()


async def test_pkcs12_password_is_kept_only_where_csi_lib_reads_it(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """metadata.json's volume context, as csi-lib keeps it: the Go driver renews the keystore after a switch back."""
    caplog.set_level(logging.DEBUG)
    ctx = context(pkcs12_enable="true", pkcs12_password="s3cret-pw")
    await rig.manager.publish(Req("vol-1", rig.target(), ctx))
    volume_dir = rig.store.volume_dir("vol-1")
    holding = sorted(
        str(p.relative_to(volume_dir)) for p in volume_dir.rglob("*") if p.is_file() and b"s3cret-pw" in p.read_bytes()
    )
    assert holding == ["metadata.json"]
    assert (
        json.loads((volume_dir / "metadata.json").read_text())["volumeContext"]["csi.cert-manager.io/pkcs12-password"]
        == "s3cret-pw"
    )
    assert stat.S_IMODE(os.stat(volume_dir / "metadata.json").st_mode) == 0o600
    assert rig.store.read_file("vol-1", "keystore.p12")
    assert "s3cret-pw" not in caplog.text


async def test_pkcs12_volume_renews_after_a_restart(rig: Rig) -> None:
    target = rig.target()
    ctx = context(pkcs12_enable="true", pkcs12_password="s3cret-pw")
    await rig.manager.publish(Req("vol-1", target, ctx))
    await rig.manager.stop()
    restarted = rig.restart()
    await restarted.manager.start()
    try:
        rig.clock.advance(3600)
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(rig.issuance.created) == 2
        assert restarted.manager.status()[0]["last_error"] is None
    finally:
        await restarted.manager.stop()
