"""Against the real sandbox: a request created with the driver's (admin) kubeconfig gets Issued."""

from __future__ import annotations

from cryptography import x509
from issuance_support import NAMESPACE, World, plan, volume_for

from certcsi.volumes.issuance import NODE_ID_HASH_LABEL, VOLUME_ID_HASH_LABEL, Issuance, fnv_hash_label


async def test_create_and_wait_until_issued(world: World) -> None:
    pod = world.pod()
    issuance = Issuance(kube=world.kube, node_id="node-1", timeout=10)
    await issuance.start()
    try:
        vol = volume_for(pod)
        name = await issuance.create(vol, plan())
        issued = await issuance.wait(NAMESPACE, name)
    finally:
        await issuance.stop()

    leaf = x509.load_pem_x509_certificates(issued.certificate_pem)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["web-0.team-a.svc.cluster.local"]
    assert issued.not_after - issued.not_before >= __import__("datetime").timedelta(minutes=59)
    assert issued.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")

    stored = world.request(name)
    assert stored is not None
    assert stored["metadata"]["labels"] == {
        NODE_ID_HASH_LABEL: fnv_hash_label("node-1"),
        VOLUME_ID_HASH_LABEL: fnv_hash_label(vol.volume_id),
    }
    assert stored["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": pod["metadata"]["uid"]}
    ]
    assert stored["spec"]["duration"] == "1h0m0s"
    assert stored["spec"]["username"] == "kubernetes-admin"


async def test_renewal_prunes_the_previous_request_and_cleanup_removes_the_rest(world: World) -> None:
    pod = world.pod()
    issuance = Issuance(kube=world.kube, node_id="node-1", timeout=10)
    await issuance.start()
    try:
        vol = volume_for(pod)
        first = await issuance.create(vol, plan())
        await issuance.wait(NAMESPACE, first)
        second = await issuance.create(vol, plan())
        await issuance.wait(NAMESPACE, second)
        assert world.request(first) is None
        assert world.request(second) is not None
        await issuance.cleanup(vol)
        assert world.request(second) is None
    finally:
        await issuance.stop()


async def test_a_restarted_issuance_resumes_a_pending_request(world_without_approver: World) -> None:
    world = world_without_approver
    pod = world.pod()
    vol = volume_for(pod)
    before = Issuance(kube=world.kube, node_id="node-1")
    await before.start()
    name = await before.create(vol, plan())
    await before.stop()

    after = Issuance(kube=world.kube, node_id="node-1")
    await after.start()
    try:
        assert after.pending(vol) == name
        # Another node's Issuance never sees it (its watch is filtered by node hash).
        other = Issuance(kube=world.kube, node_id="node-2")
        await other.start()
        assert other.pending(vol) is None
        await other.stop()
    finally:
        await after.stop()
