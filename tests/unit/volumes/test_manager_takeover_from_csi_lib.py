"""A data root the Go drivers wrote (csi-lib's format, tokens and PKCS#12 password in metadata.json) is
taken over by certcsi's two drivers sharing it: nothing still valid is re-issued, nothing loops, and
each driver resumes only its own volumes.

The fixture is written by `csi_lib_format` from csi-lib's code facts, not by certcsi's store. The
real `Issuance` and `Manager` run over an in-memory API whose pretend cert-manager signs each
request as it is created, on the test's clock.
"""

from __future__ import annotations

import json
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
from takeover_support import (
    CSI,
    NS,
    PASSWORD,
    SPIFFE,
    Node,
    csi_context,
    pod_context,
    settle,
    spiffe_driver,
    tokens,
)

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter

CSI_VOLUME = "csi-" + "a" * 64
SPIFFE_VOLUME = "csi-" + "b" * 64
WAITING_VOLUME = "csi-" + "c" * 64
LIFETIME = timedelta(hours=24)


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
        context[TOKENS] = tokens(*self.pod, at=at)
        return Req(self.volume_id, self.target, context)


@dataclass
class GoNode:
    """The node after the Go drivers ran: certcsi's `node` about to start, and the volumes they left."""

    node: Node
    volumes: dict[str, GoVolume] = field(default_factory=dict)

    def leave(self, volume: GoVolume) -> None:
        leave_go_volume(self.node, volume)
        self.volumes[volume.volume_id] = volume

    def next_issuance(self, volume_id: str) -> datetime:
        when = self.volumes[volume_id].next_issuance
        assert when is not None
        return when


def leave_go_volume(node: Node, volume: GoVolume) -> None:
    """What the Go driver left: the volume's directory, kubelet's vol_data.json, the pod's bind mount."""
    when = None if volume.next_issuance is None else go_time(volume.next_issuance)
    if volume.next_issuance is not None and volume.next_issuance.year == 1:
        when = GO_ZERO_TIME
    write_go_volume(
        node.inmemfs,
        volume_id=volume.volume_id,
        target_path=volume.target,
        next_issuance_time=when,
        volume_context=volume.context,
        files=volume.files,
        written_at=START - timedelta(hours=1),
    )
    write_vol_data(volume.target, volume_id=volume.volume_id, driver_name=volume.driver)
    node.mounter.bind_readonly(node.inmemfs / volume.volume_id / "data", volume.target)


@pytest.fixture
async def go(tmp_path: Path) -> AsyncIterator[GoNode]:
    clock = FakeClock(START)
    mounter = FakeMounter()
    node = Node(tmp_path, clock, SigningKube(clock), mounter)
    go = GoNode(node)
    mounter.mount_tmpfs(node.inmemfs)  # the Go driver mounted it
    pods = tmp_path / "kubelet" / "pods"
    issued = [
        (CSI_VOLUME, CSI, ("web-0", "uid-web", "web"), "tls", csi_context(), PASSWORD),
        (
            SPIFFE_VOLUME,
            SPIFFE,
            ("mesh-0", "uid-mesh", "mesh"),
            "spiffe",
            pod_context("mesh-0", "uid-mesh", "mesh"),
            None,
        ),
    ]
    for volume_id, driver, pod, volume_name, context, password in issued:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            _leaf(key, dns="web-0.team.svc")
            if driver == CSI
            else _leaf(key, uri=f"spiffe://cluster.local/ns/{NS}/sa/mesh")
        )
        go.leave(
            GoVolume(
                volume_id=volume_id,
                driver=driver,
                target=str(pods / pod[1] / "volumes/kubernetes.io~csi" / volume_name / "mount"),
                context={**context, TOKENS: tokens(*pod, at=START - timedelta(minutes=1))},
                pod=pod,
                next_issuance=_renewal_point(leaf),
                files=_go_files(key, leaf, password=password),
            )
        )
    yield go
    await node.stop_all()


async def _both(node: Node) -> tuple[Manager, Manager]:
    csi = await node.start(CertManagerDriver())
    spiffe = await node.start(spiffe_driver())
    await settle()
    return csi, spiffe


async def test_each_driver_resumes_only_its_own_go_volume_and_issues_nothing(go: GoNode) -> None:
    node = go.node
    csi, spiffe = await _both(node)
    assert [v.volume.volume_id for v in csi.snapshot()] == [CSI_VOLUME]
    assert [v.volume.volume_id for v in spiffe.snapshot()] == [SPIFFE_VOLUME]
    assert [v.next_issuance for v in csi.snapshot()] == [go.volumes[CSI_VOLUME].next_issuance]
    assert node.kube.created == []


async def test_republishes_take_over_without_a_request_or_a_failure(go: GoNode) -> None:
    node = go.node
    csi, spiffe = await _both(node)
    for _ in range(3):  # kubelet republishes every minute or two
        node.clock.advance(90)
        await csi.publish(go.volumes[CSI_VOLUME].republish(at=node.clock.now()))
        await spiffe.publish(go.volumes[SPIFFE_VOLUME].republish(at=node.clock.now()))
        await settle()
    assert node.kube.created == []
    assert all(view.status.failures == 0 and view.status.last_error is None for view in csi.snapshot())
    assert all(view.status.failures == 0 and view.status.last_error is None for view in spiffe.snapshot())


async def test_the_token_leaves_the_disk_and_the_password_stays_where_csi_lib_reads_it(go: GoNode) -> None:
    node = go.node
    csi, _ = await _both(node)
    await csi.publish(go.volumes[CSI_VOLUME].republish(at=node.clock.now()))
    for volume_id in (CSI_VOLUME, SPIFFE_VOLUME):
        context = node.metadata(volume_id)["volumeContext"]
        assert isinstance(context, dict) and TOKENS not in context
        assert node.metadata(volume_id)["nextIssuanceTime"] == go_time(go.next_issuance(volume_id))
    context = node.metadata(CSI_VOLUME)["volumeContext"]
    assert isinstance(context, dict) and context[PKCS12_PASSWORD] == PASSWORD


async def test_each_volume_is_renewed_once_when_due_with_the_pods_fresh_token(go: GoNode) -> None:
    node = go.node
    csi, spiffe = await _both(node)
    due = max(go.next_issuance(v) for v in (CSI_VOLUME, SPIFFE_VOLUME))
    node.clock.advance(60)
    fresh = go.volumes[CSI_VOLUME].republish(at=node.clock.now())
    await csi.publish(fresh)
    await spiffe.publish(go.volumes[SPIFFE_VOLUME].republish(at=node.clock.now()))
    node.clock.advance((due - node.clock.now()).total_seconds() + 3600)
    await settle()
    assert (node.creates_for("web-0"), node.creates_for("mesh-0")) == (1, 1)
    bearer = {body["metadata"]["ownerReferences"][0]["name"]: token for body, token in node.kube.created}
    assert bearer["web-0"] == json.loads(fresh.volume_context[TOKENS])[""]["token"]
    p12 = (node.inmemfs / CSI_VOLUME / "data" / "keystore.p12").read_bytes()
    assert pkcs12.load_key_and_certificates(p12, PASSWORD.encode())[1] is not None
    assert all(view.status.failures == 0 for view in [*csi.snapshot(), *spiffe.snapshot()])


async def test_a_volume_published_before_its_first_certificate_is_issued_once(go: GoNode) -> None:
    """--continue-on-not-ready: the Go driver wrote Go's zero time; certcsi resumes it like csi-lib does."""
    node = go.node
    go.leave(
        GoVolume(
            volume_id=WAITING_VOLUME,
            driver=CSI,
            target=str(node.root / "kubelet/pods/uid-late/volumes/kubernetes.io~csi/tls/mount"),
            context={
                **{k: v for k, v in csi_context().items() if "pkcs12" not in k},
                **pod_context("late-0", "uid-late", "web"),
                TOKENS: tokens("late-0", "uid-late", "web", at=START),
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


async def test_a_renewal_due_before_kubelet_republishes_uses_the_token_csi_lib_left(go: GoNode) -> None:
    """The token csi-lib wrote is off the disk but kept in memory: a renewal due at start goes through at once."""
    node = go.node
    node.clock.advance((go.next_issuance(CSI_VOLUME) - node.clock.now()).total_seconds() + 60)
    csi = await node.start(CertManagerDriver())
    await settle()
    assert TOKENS not in (context := node.metadata(CSI_VOLUME)["volumeContext"]) and isinstance(context, dict)
    [(body, bearer)] = node.kube.created
    assert bearer == json.loads(go.volumes[CSI_VOLUME].context[TOKENS])[""]["token"]
    assert body["metadata"]["ownerReferences"][0]["name"] == "web-0"
    assert [view.status.failures for view in csi.snapshot()] == [0]
