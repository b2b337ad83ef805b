"""The engine with pod readiness gates: wait-then-fail, --continue-on-not-ready, ${POD_IP}, restarts."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from gates_support import NODE, FakePods, pod, settle
from test_manager_lifecycle import START, FakeIssuance, Req, context

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import InvalidVolume, InvalidVolumeAttribute
from certcsi.nodeplugin import NodeOptions, build_gates
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Issued
from certcsi.volumes.gates import GateSet, GatesNotMet, PodGates, gate_backoff, parse_gates
from certcsi.volumes.manager import POD_LIST_GRACE, Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import NOT_ISSUED_YET, Store

CSI_OWNER = Owner("csi.cert-manager.io")

NO_JITTER = gate_backoff(duration=1.0, factor=2.0, jitter=0.0, cap=10.0)
POD_IP_SANS = {"ip_sans": "${POD_IP}", "dns_names": "${POD_NAME}.${POD_NAMESPACE}.svc"}


class TimedIssuance(FakeIssuance):
    """Also records the budget each wait was given."""

    budgets: list[float | None]

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        self.budgets.append(timeout)
        return await super().wait(namespace, name, timeout=timeout)


@dataclass
class GatedRig:
    root: Path
    clock: FakeClock
    api: FakePods
    issuance: TimedIssuance
    mounter: FakeMounter
    gate_texts: tuple[str, ...]
    continue_on_not_ready: bool
    # The pod watch lists at once (SYNCED); renewals wait for that.
    listed_at_start: bool = True
    _manager: Manager | None = None
    _gates: PodGates | None = None
    _store: Store | None = None

    @property
    def manager(self) -> Manager:
        assert self._manager is not None, "start() first"
        return self._manager

    @property
    def gates(self) -> PodGates:
        assert self._gates is not None, "start() first"
        return self._gates

    @property
    def store(self) -> Store:
        assert self._store is not None, "start() first"
        return self._store

    async def start(self) -> Manager:
        self._store = Store(data_root=self.root / "data", mounter=self.mounter, owner=CSI_OWNER)
        self._gates = PodGates(
            kube=self.api,
            node_id=NODE,
            gates=GateSet(parse_gates(self.gate_texts)),
            clock=self.clock,
            backoff=NO_JITTER,
        )
        await self.gates.start()
        if self.listed_at_start:
            self.api.synced()
        self._manager = Manager(
            driver=CertManagerDriver(),
            store=self.store,
            mounter=self.mounter,
            issuance=self.issuance,
            clock=self.clock,
            rate=RateBudget(qps=1000, burst=1000, clock=self.clock),
            rng=random.Random(7),
            issue_timeout=60.0,
            gates=self.gates,
            continue_on_not_ready=self.continue_on_not_ready,
        )
        await self.manager.start()
        return self.manager

    async def stop(self) -> None:
        if self._manager is not None:
            await self._manager.stop()
        if self._gates is not None:
            await self._gates.stop()

    def target(self, name: str = "v1") -> str:
        path = self.root / "pods" / name / "mount"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def files(self, volume_id: str = "vol-1") -> list[str]:
        return self.store.list_files(volume_id)

    def leaf(self, volume_id: str = "vol-1") -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.store.read_file(volume_id, "tls.crt") or b"")


def make_rig(tmp_path: Path, *gates: str, continue_on_not_ready: bool) -> GatedRig:
    clock = FakeClock(START)
    issuance = TimedIssuance(clock)
    issuance.budgets = []
    return GatedRig(tmp_path, clock, FakePods(), issuance, FakeMounter(), gates, continue_on_not_ready)


@pytest.fixture
async def waiting(tmp_path: Path) -> AsyncIterator[GatedRig]:
    """Without --continue-on-not-ready: a publish waits for an annotation a webhook would set."""
    rig = make_rig(tmp_path, "pod-annotation:example.com/ready", continue_on_not_ready=False)
    await rig.start()
    yield rig
    await rig.stop()


@pytest.fixture
async def continuing(tmp_path: Path) -> AsyncIterator[GatedRig]:
    """With --continue-on-not-ready and a pod-ip gate, as kubelet needs it."""
    rig = make_rig(tmp_path, "pod-ip:any", continue_on_not_ready=True)
    await rig.start()
    yield rig
    await rig.stop()


def ip_sans(cert: x509.Certificate) -> list[str]:
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]


# --- no gates ----------------------------------------------------------------------------------------


def test_without_gates_nothing_watches_pods() -> None:
    options = NodeOptions(node_id=NODE, endpoint="unix:///x.sock", data_root=Path("/x"), kubeconfig=None)
    assert build_gates(options, kube=FakePods(), clock=FakeClock()) is None
    gated = NodeOptions(
        node_id=NODE,
        endpoint="unix:///x.sock",
        data_root=Path("/x"),
        kubeconfig=None,
        pod_readiness_gates=parse_gates(["pod-annotation:a"]),
    )
    assert isinstance(build_gates(gated, kube=FakePods(), clock=FakeClock()), PodGates)


# --- waiting inside the publish ------------------------------------------------------------------------


async def test_publish_waits_for_the_gates_then_issues(waiting: GatedRig) -> None:
    waiting.api.put(pod(), "ADDED")
    await settle()
    publish = asyncio.create_task(waiting.manager.publish(Req("vol-1", waiting.target(), context())))
    await settle()
    assert not publish.done() and waiting.issuance.created == []
    waiting.api.put(pod(annotations={"example.com/ready": "yes"}))
    await settle()
    await asyncio.wait_for(publish, 1)
    assert waiting.files() == ["ca.crt", "tls.crt", "tls.key"]
    assert len(waiting.issuance.created) == 1


async def test_gates_and_issuance_share_one_budget(waiting: GatedRig) -> None:
    waiting.api.put(pod(), "ADDED")
    await settle()
    publish = asyncio.create_task(waiting.manager.publish(Req("vol-1", waiting.target(), context())))
    await settle()
    waiting.clock.advance(45)
    waiting.api.put(pod(annotations={"example.com/ready": "yes"}))
    await settle()
    await asyncio.wait_for(publish, 1)
    assert waiting.issuance.budgets == [15.0]


async def test_gates_unmet_within_the_timeout_fail_the_publish_naming_the_gate(waiting: GatedRig) -> None:
    target = waiting.target()
    waiting.api.put(pod(annotations={"example.com/ready": ""}), "ADDED")
    await settle()
    publish = asyncio.create_task(waiting.manager.publish(Req("vol-1", target, context())))
    await settle()
    waiting.clock.advance(60)
    await settle()
    with pytest.raises(GatesNotMet) as info:
        await publish
    assert str(info.value) == (
        'pod readiness gate pod-annotation:example.com/ready not met: pod annotation "example.com/ready" is empty '
        "(waited 60s)"
    )
    assert waiting.issuance.created == []
    assert waiting.store.list_volume_ids() == []
    assert not waiting.mounter.is_mount_point(target) and not Path(target).exists()
    assert waiting.gates.waiting == 0


async def test_gates_need_the_pods_identity(waiting: GatedRig) -> None:
    ctx = {k: v for k, v in context().items() if k != "csi.storage.k8s.io/pod.uid"}
    with pytest.raises(InvalidVolume, match=r"pod\.uid: .*podInfoOnMount: true"):
        await waiting.manager.publish(Req("vol-1", waiting.target(), ctx))


async def test_pod_ip_without_a_pod_ip_gate_is_refused_naming_the_flag(waiting: GatedRig) -> None:
    with pytest.raises(InvalidVolumeAttribute, match="--pod-readiness-gate=pod-ip:any"):
        await waiting.manager.publish(Req("vol-1", waiting.target(), context(**POD_IP_SANS)))
    assert waiting.store.list_volume_ids() == []


# --- --continue-on-not-ready ------------------------------------------------------------------------------


async def test_continue_publishes_an_empty_volume_and_issues_once_the_pod_has_an_ip(continuing: GatedRig) -> None:
    target = continuing.target()
    continuing.api.put(pod(), "ADDED")
    await settle()
    await continuing.manager.publish(Req("vol-1", target, context(**POD_IP_SANS)))
    assert continuing.mounter.is_bind_of(target, continuing.store.data_dir("vol-1"))
    assert continuing.files() == [] and continuing.issuance.created == []
    meta = continuing.store.read_metadata("vol-1")
    # csi-lib's record of a published volume without a certificate (Go's zero time): resumed after a restart.
    assert meta is not None and meta.next_issuance_time == NOT_ISSUED_YET
    status = continuing.manager.status()[0]
    assert status["last_error"] == "pod readiness gate pod-ip:any not met: pod has no IPv4/IPv6 address yet"

    continuing.api.put(pod(ips=("10.244.0.7", "fd00::7")))
    await settle()
    assert continuing.files() == ["ca.crt", "tls.crt", "tls.key"]  # no time passed: the event did it
    assert ip_sans(continuing.leaf()) == ["10.244.0.7"]
    meta = continuing.store.read_metadata("vol-1")
    assert meta is not None and meta.next_issuance_time is not None
    assert "10.244.0.7" not in (continuing.store.volume_dir("vol-1") / "metadata.json").read_text()


async def test_continue_issues_synchronously_when_the_gates_already_pass(continuing: GatedRig) -> None:
    continuing.api.put(pod(ips=("fd00::9",)), "ADDED")
    await settle()
    await continuing.manager.publish(Req("vol-1", continuing.target(), context(**POD_IP_SANS)))
    assert ip_sans(continuing.leaf()) == ["fd00::9"]


async def test_continue_rechecks_on_the_gate_backoff_when_no_event_comes(continuing: GatedRig) -> None:
    # The watch never delivers this pod: every re-check reads it, on the backoff (jitter off: 1, 2, 4 s).
    continuing.api.pods[("team", "app-0")] = pod()
    await continuing.manager.publish(Req("vol-1", continuing.target(), context()))
    assert len(continuing.api.gets) == 1
    for gets, step in ((2, 1.0), (3, 2.0), (4, 4.0)):
        continuing.clock.advance(step - 0.01)
        await settle()
        assert len(continuing.api.gets) == gets - 1
        continuing.clock.advance(0.01)
        await settle()
        assert len(continuing.api.gets) == gets
    continuing.api.pods[("team", "app-0")] = pod(ips=("10.0.0.4",))
    continuing.clock.advance(8)
    await settle()
    assert continuing.files() == ["ca.crt", "tls.crt", "tls.key"]


async def test_a_late_event_after_issuance_by_a_recheck_issues_nothing_more(continuing: GatedRig) -> None:
    continuing.api.pods[("team", "app-0")] = pod()  # not delivered by the watch: re-checks read it
    await continuing.manager.publish(Req("vol-1", continuing.target(), context()))
    continuing.api.pods[("team", "app-0")] = pod(ips=("10.0.0.4",))
    continuing.clock.advance(1)
    await settle()
    assert len(continuing.issuance.created) == 1
    continuing.api.put(pod(ips=("10.0.0.4",)), "ADDED")  # the watch catches up
    await settle()
    assert len(continuing.issuance.created) == 1
    assert continuing.gates.waiting == 0


async def test_republish_of_a_volume_still_waiting_keeps_it_mounted_and_issues_nothing(continuing: GatedRig) -> None:
    target = continuing.target()
    continuing.api.put(pod(), "ADDED")
    await settle()
    await continuing.manager.publish(Req("vol-1", target, context()))
    await continuing.manager.publish(Req("vol-1", target, context()))
    assert continuing.mounter.is_bind_of(target, continuing.store.data_dir("vol-1"))
    assert continuing.issuance.created == [] and continuing.store.list_volume_ids() == ["vol-1"]


async def test_unpublish_of_a_waiting_volume_leaves_no_listener_or_timer(continuing: GatedRig) -> None:
    target = continuing.target()
    continuing.api.put(pod(), "ADDED")
    await settle()
    await continuing.manager.publish(Req("vol-1", target, context()))
    assert continuing.gates.waiting == 1
    await continuing.manager.unpublish(volume_id="vol-1", target_path=target)
    assert continuing.gates.waiting == 0
    continuing.api.put(pod(ips=("10.0.0.1",)))
    continuing.clock.advance(60)
    await settle()
    assert continuing.issuance.created == [] and continuing.manager.status() == []


async def test_restart_keeps_a_mounted_never_issued_volume_and_issues_it_later(tmp_path: Path) -> None:
    first = make_rig(tmp_path, "pod-ip:any", continue_on_not_ready=True)
    await first.start()
    mounted, gone = first.target("mounted"), first.target("gone")
    first.api.put(pod(), "ADDED")
    first.api.put(pod(name="app-1", uid="uid-1"), "ADDED")
    await settle()
    await first.manager.publish(Req("vol-1", mounted, context()))
    ctx = {**context(), "csi.storage.k8s.io/pod.name": "app-1", "csi.storage.k8s.io/pod.uid": "uid-1"}
    await first.manager.publish(Req("vol-2", gone, ctx))
    await first.stop()
    first.mounter.unmount(gone)  # vol-2 lost its mount while the driver was down: a true leftover

    second = GatedRig(
        tmp_path, first.clock, FakePods(), first.issuance, first.mounter, first.gate_texts, True, listed_at_start=False
    )
    second.api.pods[("team", "app-0")] = pod(ips=("10.0.0.8",))
    await second.start()
    try:
        assert second.store.list_volume_ids() == ["vol-1"]
        await settle()
        assert second.files() == []  # nothing fires before the new pod watch has listed
        second.api.put(pod(ips=("10.0.0.8",)), "ADDED")
        second.api.synced()
        await settle()
        assert second.files() == ["ca.crt", "tls.crt", "tls.key"]
        assert second.mounter.is_bind_of(mounted, second.store.data_dir("vol-1"))
    finally:
        await second.stop()


async def test_without_a_pod_list_renewals_go_ahead_after_a_grace_reading_the_pod(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "pod-ip:any", continue_on_not_ready=True)
    rig.listed_at_start = False  # the driver may get pods but not list them
    rig.api.pods[("team", "app-0")] = pod()
    await rig.start()
    try:
        await rig.manager.publish(Req("vol-1", rig.target(), context()))
        assert rig.files() == [] and rig.issuance.created == []
        rig.api.pods[("team", "app-0")] = pod(ips=("10.0.0.8",))  # no watch event says so
        rig.clock.advance(POD_LIST_GRACE - 1)
        await settle()
        assert rig.issuance.created == []
        rig.clock.advance(1)
        await settle()
        assert rig.files() == ["ca.crt", "tls.crt", "tls.key"]
        assert rig.api.gets  # read with a GET, as the watch never listed
    finally:
        await rig.stop()


async def test_a_renewal_waits_for_the_gates_and_keeps_the_certificate(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "pod-condition:example.com/serving", continue_on_not_ready=True)
    await rig.start()
    try:
        rig.api.put(pod(conditions={"example.com/serving": "True"}), "ADDED")
        await settle()
        await rig.manager.publish(Req("vol-1", rig.target(), context()))
        before = rig.leaf().serial_number
        rig.api.put(pod(conditions={"example.com/serving": "False"}))
        rig.clock.advance(3600)  # far past the renewal time of the one-hour certificate
        await settle()
        assert len(rig.issuance.created) == 1 and rig.leaf().serial_number == before
        rig.api.put(pod(conditions={"example.com/serving": "True"}))
        await settle()
        assert len(rig.issuance.created) == 2 and rig.leaf().serial_number != before
    finally:
        await rig.stop()


async def test_the_csr_carries_the_pods_real_address_not_the_placeholder(continuing: GatedRig) -> None:
    continuing.api.put(pod(ips=("10.1.1.1",)), "ADDED")
    await settle()
    await continuing.manager.publish(Req("vol-1", continuing.target(), context(**POD_IP_SANS)))
    _, plan = continuing.issuance.created[0]
    csr = x509.load_pem_x509_csr(plan.csr_pem)
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.1.1.1")]
