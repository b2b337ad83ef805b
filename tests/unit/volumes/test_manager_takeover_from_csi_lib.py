"""A data root the Go drivers wrote (csi-lib's format, tokens and PKCS#12 password in metadata.json) is
taken over by certcsi's two drivers sharing it: nothing still valid is re-issued, nothing loops, and
each driver resumes only its own volumes.

The fixture is written by `csi_lib_format` from csi-lib's code facts, not by certcsi's store. The
real `Issuance` and `Manager` run over an in-memory API whose pretend cert-manager signs each
request as it is created, on the test's clock.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)
from cryptography.x509.oid import NameOID
from csi_lib_format import GO_ZERO_TIME, PKCS12_PASSWORD, TOKENS, go_time, write_go_volume, write_vol_data
from publish_requests import Req
from signing_kube import CA_CERT, CA_KEY, START, SigningKube

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.spiffe import RuntimeIssuer, SpiffeDriver
from certcsi.sandbox.apiserver.authn import PODS, SERVICEACCOUNTS, TokenAuthority
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Driver, IssuerRef
from certcsi.volumes.issuance import Issuance
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

CSI = "csi.cert-manager.io"
SPIFFE = "spiffe.csi.cert-manager.io"
NS = "team"
CSI_VOLUME = "csi-" + "a" * 64
SPIFFE_VOLUME = "csi-" + "b" * 64
WAITING_VOLUME = "csi-" + "c" * 64
PASSWORD = "p12-secret-4f7e"
LIFETIME = timedelta(hours=24)


class _Objects:
    """The pods and service accounts the token authority checks bound tokens against."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, object]] = {}

    def add_pod(self, name: str, uid: str, account: str) -> None:
        self.objects[(SERVICEACCOUNTS, NS, account)] = {"metadata": {"name": account, "namespace": NS, "uid": "sa"}}
        self.objects[(PODS, NS, name)] = {
            "metadata": {"name": name, "namespace": NS, "uid": uid},
            "spec": {"serviceAccountName": account},
        }

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, object] | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None) -> list[dict[str, object]]:
        return [o for (r, ns, _), o in self.objects.items() if r == resource and namespace in (None, ns)]


_OBJECTS = _Objects()
_OBJECTS.add_pod("web-0", "uid-web", "web")
_OBJECTS.add_pod("mesh-0", "uid-mesh", "mesh")
_OBJECTS.add_pod("late-0", "uid-late", "web")
_AUTHORITY = TokenAuthority(reader=_OBJECTS)


def _tokens(pod: str, uid: str, account: str, *, at: datetime) -> str:
    token, _ = _AUTHORITY.mint(namespace=NS, service_account=account, audiences=None, bound_pod=(pod, uid))
    return json.dumps({"": {"token": token, "expirationTimestamp": go_time(at + timedelta(hours=1))}})


def _pod_context(pod: str, uid: str, account: str) -> dict[str, str]:
    return {
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/pod.name": pod,
        "csi.storage.k8s.io/pod.namespace": NS,
        "csi.storage.k8s.io/pod.uid": uid,
        "csi.storage.k8s.io/serviceAccount.name": account,
    }


def _csi_context() -> dict[str, str]:
    return {
        **_pod_context("web-0", "uid-web", "web"),
        f"{CSI}/issuer-name": "ca",
        f"{CSI}/issuer-kind": "ClusterIssuer",
        f"{CSI}/dns-names": "web-0.team.svc",
        f"{CSI}/duration": "24h",
        f"{CSI}/key-algorithm": "ECDSA",
        f"{CSI}/pkcs12-enable": "true",
        PKCS12_PASSWORD: PASSWORD,
    }


def _leaf(key: ec.EllipticCurvePrivateKey, *, dns: str | None = None, uri: str | None = None) -> x509.Certificate:
    """A certificate as the Go driver received it an hour ago, valid for LIFETIME."""
    san: list[x509.GeneralName] = [x509.DNSName(dns)] if dns else [x509.UniformResourceIdentifier(uri or "")]
    not_before = START - timedelta(hours=1)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]) if uri else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns or "")]))
        .issuer_name(CA_CERT.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + LIFETIME)
        .add_extension(x509.SubjectAlternativeName(san), critical=uri is not None)
        .sign(CA_KEY, hashes.SHA256())  # type: ignore[arg-type]
    )


def _go_files(key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate, *, password: str | None) -> dict[str, bytes]:
    chain = leaf.public_bytes(Encoding.PEM) + CA_CERT.public_bytes(Encoding.PEM)
    files = {
        "tls.crt": chain,
        "tls.key": key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        "ca.crt": CA_CERT.public_bytes(Encoding.PEM),
    }
    if password:
        encryption = BestAvailableEncryption(password.encode())
        files["keystore.p12"] = pkcs12.serialize_key_and_certificates(None, key, leaf, [CA_CERT], encryption)
    return files


def _renewal_point(leaf: x509.Certificate) -> datetime:
    """csi-lib's default: two thirds of the lifetime."""
    return leaf.not_valid_after_utc - (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 3


@dataclass
class GoVolume:
    volume_id: str
    driver: str
    target: str
    context: dict[str, str]
    pod: tuple[str, str, str]
    next_issuance: datetime | None
    files: dict[str, bytes] = field(default_factory=dict)

    def republish(self, *, at: datetime) -> Req:
        """kubelet's periodic NodePublishVolume (requiresRepublish) with a fresh token."""
        context = {k: v for k, v in self.context.items() if k != TOKENS}
        context[TOKENS] = _tokens(*self.pod, at=at)
        return Req(self.volume_id, self.target, context)


@dataclass
class Node:
    root: Path
    clock: FakeClock
    kube: SigningKube
    mounter: FakeMounter
    volumes: dict[str, GoVolume] = field(default_factory=dict)
    running: list[tuple[Issuance, Manager]] = field(default_factory=list)

    @property
    def inmemfs(self) -> Path:
        return self.root / "data" / "inmemfs"

    def go_volume(self, volume: GoVolume) -> None:
        """What the Go driver left: the volume's directory, kubelet's vol_data.json, the pod's bind mount."""
        when = None if volume.next_issuance is None else go_time(volume.next_issuance)
        if volume.next_issuance is not None and volume.next_issuance.year == 1:
            when = GO_ZERO_TIME
        write_go_volume(
            self.inmemfs,
            volume_id=volume.volume_id,
            target_path=volume.target,
            next_issuance_time=when,
            volume_context=volume.context,
            files=volume.files,
            written_at=START - timedelta(hours=1),
        )
        write_vol_data(volume.target, volume_id=volume.volume_id, driver_name=volume.driver)
        self.mounter.bind_readonly(self.inmemfs / volume.volume_id / "data", volume.target)
        self.volumes[volume.volume_id] = volume

    async def start(self, driver: Driver) -> Manager:
        issuance = Issuance(kube=self.kube, node_id="node-1", clock=self.clock)
        manager = Manager(
            driver=driver,
            store=Store(data_root=self.root / "data", mounter=self.mounter, owner=Owner.of(driver)),
            mounter=self.mounter,
            issuance=issuance,
            clock=self.clock,
            rate=RateBudget(qps=1000, burst=1000, clock=self.clock),
            use_token_request=driver.name == CSI,
            rng=random.Random(3),
        )
        await issuance.start(wait_synced=False)
        await manager.start()
        self.running.append((issuance, manager))
        return manager

    def creates_for(self, pod: str) -> int:
        return sum(body["metadata"]["ownerReferences"][0]["name"] == pod for body, _ in self.kube.created)

    def metadata(self, volume_id: str) -> dict[str, object]:
        loaded = json.loads((self.inmemfs / volume_id / "metadata.json").read_bytes())
        assert isinstance(loaded, dict)
        return loaded


async def settle() -> None:
    for _ in range(40):
        await asyncio.sleep(0)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    clock = FakeClock(START)
    mounter = FakeMounter()
    node = Node(tmp_path, clock, SigningKube(clock), mounter)
    mounter.mount_tmpfs(node.inmemfs)  # the Go driver mounted it
    web_key, mesh_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    web_leaf = _leaf(web_key, dns="web-0.team.svc")
    mesh_leaf = _leaf(mesh_key, uri=f"spiffe://cluster.local/ns/{NS}/sa/mesh")
    pods = tmp_path / "kubelet" / "pods"
    csi_context = {**_csi_context(), TOKENS: _tokens("web-0", "uid-web", "web", at=START - timedelta(minutes=1))}
    node.go_volume(
        GoVolume(
            volume_id=CSI_VOLUME,
            driver=CSI,
            target=str(pods / "uid-web/volumes/kubernetes.io~csi/tls/mount"),
            context=csi_context,
            pod=("web-0", "uid-web", "web"),
            next_issuance=_renewal_point(web_leaf),
            files=_go_files(web_key, web_leaf, password=PASSWORD),
        )
    )
    spiffe_context = {**_pod_context("mesh-0", "uid-mesh", "mesh")}
    spiffe_context[TOKENS] = _tokens("mesh-0", "uid-mesh", "mesh", at=START - timedelta(minutes=1))
    node.go_volume(
        GoVolume(
            volume_id=SPIFFE_VOLUME,
            driver=SPIFFE,
            target=str(pods / "uid-mesh/volumes/kubernetes.io~csi/spiffe/mount"),
            context=spiffe_context,
            pod=("mesh-0", "uid-mesh", "mesh"),
            next_issuance=_renewal_point(mesh_leaf),
            files=_go_files(mesh_key, mesh_leaf, password=None),
        )
    )
    yield node
    while node.running:
        issuance, manager = node.running.pop()
        await manager.stop()
        await issuance.stop()


def _spiffe_driver() -> SpiffeDriver:
    return SpiffeDriver(issuer=RuntimeIssuer(IssuerRef(name="spiffe-ca", kind="ClusterIssuer")))


async def _both(node: Node) -> tuple[Manager, Manager]:
    csi = await node.start(CertManagerDriver())
    spiffe = await node.start(_spiffe_driver())
    await settle()
    return csi, spiffe


async def test_each_driver_resumes_only_its_own_go_volume_and_issues_nothing(node: Node) -> None:
    csi, spiffe = await _both(node)
    assert [v.volume.volume_id for v in csi.snapshot()] == [CSI_VOLUME]
    assert [v.volume.volume_id for v in spiffe.snapshot()] == [SPIFFE_VOLUME]
    assert [v.next_issuance for v in csi.snapshot()] == [node.volumes[CSI_VOLUME].next_issuance]
    assert node.kube.created == []


async def test_republishes_take_over_without_a_request_or_a_failure(node: Node) -> None:
    csi, spiffe = await _both(node)
    for _ in range(3):  # kubelet republishes every minute or two
        node.clock.advance(90)
        await csi.publish(node.volumes[CSI_VOLUME].republish(at=node.clock.now()))
        await spiffe.publish(node.volumes[SPIFFE_VOLUME].republish(at=node.clock.now()))
        await settle()
    assert node.kube.created == []
    assert all(view.status.failures == 0 and view.status.last_error is None for view in csi.snapshot())
    assert all(view.status.failures == 0 and view.status.last_error is None for view in spiffe.snapshot())


async def test_the_token_leaves_the_disk_and_the_password_stays_where_csi_lib_reads_it(node: Node) -> None:
    csi, _ = await _both(node)
    await csi.publish(node.volumes[CSI_VOLUME].republish(at=node.clock.now()))
    for volume_id in (CSI_VOLUME, SPIFFE_VOLUME):
        context = node.metadata(volume_id)["volumeContext"]
        assert isinstance(context, dict) and TOKENS not in context
        assert node.metadata(volume_id)["nextIssuanceTime"] == go_time(_expected_time(node, volume_id))
    context = node.metadata(CSI_VOLUME)["volumeContext"]
    assert isinstance(context, dict) and context[PKCS12_PASSWORD] == PASSWORD


def _expected_time(node: Node, volume_id: str) -> datetime:
    when = node.volumes[volume_id].next_issuance
    assert when is not None
    return when


async def test_each_volume_is_renewed_once_when_due_with_the_pods_fresh_token(node: Node) -> None:
    csi, spiffe = await _both(node)
    due = max(_expected_time(node, v) for v in (CSI_VOLUME, SPIFFE_VOLUME))
    node.clock.advance(60)
    fresh = node.volumes[CSI_VOLUME].republish(at=node.clock.now())
    await csi.publish(fresh)
    await spiffe.publish(node.volumes[SPIFFE_VOLUME].republish(at=node.clock.now()))
    node.clock.advance((due - node.clock.now()).total_seconds() + 3600)
    await settle()
    assert (node.creates_for("web-0"), node.creates_for("mesh-0")) == (1, 1)
    bearer = {body["metadata"]["ownerReferences"][0]["name"]: token for body, token in node.kube.created}
    assert bearer["web-0"] == json.loads(fresh.volume_context[TOKENS])[""]["token"]
    p12 = (node.inmemfs / CSI_VOLUME / "data" / "keystore.p12").read_bytes()
    assert pkcs12.load_key_and_certificates(p12, PASSWORD.encode())[1] is not None
    assert all(view.status.failures == 0 for view in [*csi.snapshot(), *spiffe.snapshot()])


async def test_a_volume_published_before_its_first_certificate_is_issued_once(node: Node) -> None:
    """--continue-on-not-ready: the Go driver wrote Go's zero time; certcsi resumes it like csi-lib does."""
    node.go_volume(
        GoVolume(
            volume_id=WAITING_VOLUME,
            driver=CSI,
            target=str(node.root / "kubelet/pods/uid-late/volumes/kubernetes.io~csi/tls/mount"),
            context={
                **{k: v for k, v in _csi_context().items() if "pkcs12" not in k},
                **_pod_context("late-0", "uid-late", "web"),
                TOKENS: _tokens("late-0", "uid-late", "web", at=START),
            },
            pod=("late-0", "uid-late", "web"),
            next_issuance=datetime.min.replace(tzinfo=START.tzinfo),
        )
    )
    csi, _ = await _both(node)
    await settle()
    assert (node.creates_for("late-0"), node.creates_for("web-0"), node.creates_for("mesh-0")) == (1, 0, 0)
    assert (node.inmemfs / WAITING_VOLUME / "data" / "tls.crt").exists()
    assert {v.volume.volume_id for v in csi.snapshot()} == {CSI_VOLUME, WAITING_VOLUME}
