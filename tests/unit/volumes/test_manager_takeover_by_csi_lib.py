"""A data root certcsi's drivers wrote is taken back by the Go drivers (a `helm rollback`): the Go side,
emulated from csi-lib's and csi-driver's code (`csi_lib_format.GoDriver`), starts on it, resumes every
volume at certcsi's renewal time, and finds on renewal what it reads there.

What certcsi keeps in metadata.json and what it does not, and why (see README, "Rolling back"):
- the PKCS#12 password is there, as csi-lib keeps it: csi-driver without token requests has no
  requiresRepublish, so kubelet never publishes again and metadata.json is the only place the Go
  driver can find it. It lives on the tmpfs, 0600, beside the private key it protects.
- the pod's token is not: it expires within the hour, and wherever tokens are requested the CSIDriver
  also has requiresRepublish, so kubelet's next republish (every minute or two) makes csi-lib write a
  fresh one there. A renewal due before that fails once and is retried; the certificate stays valid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from csi_lib_format import (
    GO_ZERO_TIME,
    PKCS12_PASSWORD,
    TOKENS,
    GoDriver,
    GoRenewalFailure,
    go_metadata_json,
    write_vol_data,
)
from publish_requests import Req
from signing_kube import START, SigningKube
from takeover_support import CSI, PASSWORD, SPIFFE, Node, csi_context, pod_context, settle, spiffe_driver, tokens

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import NOT_ISSUED_YET, Metadata, Store

CSI_VOLUME = "csi-" + "d" * 64
SPIFFE_VOLUME = "csi-" + "e" * 64


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    clock = FakeClock(START)
    node = Node(tmp_path, clock, SigningKube(clock), FakeMounter())
    yield node
    await node.stop_all()


def _target(node: Node, uid: str, name: str, *, driver: str, volume_id: str) -> str:
    target = str(node.root / "kubelet/pods" / uid / "volumes/kubernetes.io~csi" / name / "mount")
    write_vol_data(target, volume_id=volume_id, driver_name=driver)
    return target


async def _certcsi_wrote(node: Node, *, token_request: bool) -> dict[str, str]:
    """Both certcsi drivers publish one volume each, then stop. Returns each volume's renewal time as written."""
    csi = await node.start(CertManagerDriver(), token_request=token_request)
    spiffe = await node.start(spiffe_driver())
    await settle()
    csi_ctx = csi_context()
    if token_request:
        csi_ctx[TOKENS] = tokens("web-0", "uid-web", "web", at=START)
    target = _target(node, "uid-web", "tls", driver=CSI, volume_id=CSI_VOLUME)
    await csi.publish(Req(CSI_VOLUME, target, csi_ctx))
    spiffe_ctx = {**pod_context("mesh-0", "uid-mesh", "mesh"), TOKENS: tokens("mesh-0", "uid-mesh", "mesh", at=START)}
    target = _target(node, "uid-mesh", "spiffe", driver=SPIFFE, volume_id=SPIFFE_VOLUME)
    await spiffe.publish(Req(SPIFFE_VOLUME, target, spiffe_ctx))
    times = {view.volume.volume_id: view.next_issuance for view in [*csi.snapshot(), *spiffe.snapshot()]}
    await node.stop_all()
    return {volume_id: when.isoformat() for volume_id, when in times.items() if when is not None}


async def test_the_go_driver_starts_and_resumes_every_volume_at_certcsi_s_renewal_time(node: Node) -> None:
    times = await _certcsi_wrote(node, token_request=True)
    go = GoDriver(node.root / "data", token_request=True)
    assert go.start() == [CSI_VOLUME, SPIFFE_VOLUME]
    assert go.deleted == []
    for volume_id in (CSI_VOLUME, SPIFFE_VOLUME):
        meta = go.read_metadata(volume_id)
        assert meta.volume_id == volume_id and meta.next_issuance_time is not None
        assert meta.next_issuance_time.isoformat() == times[volume_id]
        assert TOKENS not in meta.volume_context


async def test_without_token_requests_the_go_driver_renews_a_keystore_at_once(node: Node) -> None:
    """No requiresRepublish, no republish: the password must already be where csi-driver reads it."""
    await _certcsi_wrote(node, token_request=False)
    go = GoDriver(node.root / "data", token_request=False)
    go.start()
    assert go.renewal_inputs(CSI_VOLUME).volume_context[PKCS12_PASSWORD] == PASSWORD


async def test_with_token_requests_the_first_republish_gives_the_go_driver_its_token(node: Node) -> None:
    await _certcsi_wrote(node, token_request=True)
    go = GoDriver(node.root / "data", token_request=True)
    go.start()
    for volume_id in (CSI_VOLUME, SPIFFE_VOLUME):
        with pytest.raises(GoRenewalFailure, match="not present in volume context"):
            go.renewal_inputs(volume_id)
    # kubelet's next NodePublishVolume to the Go driver: RegisterMetadata sees a changed context.
    fresh = {
        CSI_VOLUME: {**csi_context(), TOKENS: tokens("web-0", "uid-web", "web", at=START)},
        SPIFFE_VOLUME: {
            **pod_context("mesh-0", "uid-mesh", "mesh"),
            TOKENS: tokens("mesh-0", "uid-mesh", "mesh", at=START),
        },
    }
    for volume_id, context in fresh.items():
        assert go.register(volume_id=volume_id, target_path="", volume_context=context)
        assert go.renewal_inputs(volume_id).volume_context[TOKENS] == context[TOKENS]
    assert go.renewal_inputs(CSI_VOLUME).volume_context[PKCS12_PASSWORD] == PASSWORD


async def test_the_go_driver_finds_the_published_key_and_files_where_it_reads_them(node: Node) -> None:
    """csi-driver's reuse-private-key reads the key back through the data directory's visible names."""
    await _certcsi_wrote(node, token_request=True)
    go = GoDriver(node.root / "data", token_request=True)
    for volume_id in (CSI_VOLUME, SPIFFE_VOLUME):
        key = load_pem_private_key(go.read_file(volume_id, "tls.key"), None)
        leaf = x509.load_pem_x509_certificates(go.read_file(volume_id, "tls.crt"))[0]
        assert key.public_key() == leaf.public_key()
        data = node.inmemfs / volume_id / "data"
        assert (data / "..data").is_symlink() and "/" not in str((data / "..data").readlink())


def test_a_volume_published_before_its_first_certificate_is_resumed_by_the_go_driver(tmp_path: Path) -> None:
    """certcsi records it with Go's zero time (--continue-on-not-ready), which csi-lib resumes at start."""
    store = Store(data_root=tmp_path / "data", mounter=FakeMounter(), owner=Owner(CSI))
    store.open()
    store.write_metadata(Metadata(volume_id="waiting", target_path="/t", next_issuance_time=NOT_ISSUED_YET))
    raw = (store.root / "waiting" / "metadata.json").read_bytes()
    expected = go_metadata_json(
        volume_id="waiting", target_path="/t", next_issuance_time=GO_ZERO_TIME, volume_context={}
    )
    assert raw == expected
    assert GoDriver(tmp_path / "data", token_request=False).start() == ["waiting"]


def test_a_driver_record_is_nothing_the_go_driver_trips_over(tmp_path: Path) -> None:
    """driver.json sits inside the volume directory: ListVolumes sees only directories with metadata.json."""
    store = Store(data_root=tmp_path / "data", mounter=FakeMounter(), owner=Owner(SPIFFE))
    store.open()
    store.write_metadata(Metadata(volume_id="v", target_path="/t", next_issuance_time=START))
    assert json.loads((store.root / "v" / "driver.json").read_text()) == {"driverName": SPIFFE}
    assert GoDriver(tmp_path / "data", token_request=True).start() == ["v"]
