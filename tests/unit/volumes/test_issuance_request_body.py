"""The CertificateRequest body is upstream's shape, byte for byte where it matters."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

from test_issuance_support import CSR_PEM, FakeKube, plan, started, volume

from certcsi.volumes.driver import IssuerRef
from certcsi.volumes.issuance import build_request_body, fnv_hash_label

GOLDEN = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "CertificateRequest",
    "metadata": {
        "name": "11111111-2222-4333-8444-555555555555",
        "namespace": "team-a",
        "labels": {
            "csi.cert-manager.io/node-id-hash": "f56fd9f8b",
            "csi.cert-manager.io/volume-id-hash": fnv_hash_label("csi-0123"),
        },
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "5b1c4f6e-0000-4000-8000-000000000001"}
        ],
        "annotations": {"venafi.cert-manager.io/custom-fields": '[{"name": "a", "value": "b"}]'},
    },
    "spec": {
        "request": base64.b64encode(CSR_PEM).decode(),
        "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "isCA": False,
        "usages": ["digital signature", "key encipherment"],
        "duration": "2160h0m0s",
    },
}


def test_golden_body() -> None:
    body = build_request_body(
        volume=volume(),
        plan=plan(
            duration=timedelta(days=90),
            annotations={"venafi.cert-manager.io/custom-fields": '[{"name": "a", "value": "b"}]'},
        ),
        name="11111111-2222-4333-8444-555555555555",
        node_hash=fnv_hash_label("test-node"),
    )
    assert body == GOLDEN


def test_without_pod_identity_there_is_no_owner_reference() -> None:
    vol = volume()
    attributes = dict(vol.attributes)
    del attributes["csi.storage.k8s.io/pod.uid"]
    body = build_request_body(
        volume=type(vol)(volume_id=vol.volume_id, target_path=vol.target_path, attributes=attributes),
        plan=plan(),
        name="n",
        node_hash="h",
    )
    assert "ownerReferences" not in body["metadata"]


def test_optional_fields_are_omitted_when_unset() -> None:
    body = build_request_body(volume=volume(), plan=plan(duration=None), name="n", node_hash="h")
    assert "duration" not in body["spec"]
    assert "annotations" not in body["metadata"]


def test_is_ca_and_issuer_group_pass_through() -> None:
    body = build_request_body(
        volume=volume(),
        plan=plan(is_ca=True, issuer_ref=IssuerRef(name="vault", kind="Issuer", group="example.io")),
        name="n",
        node_hash="h",
    )
    assert body["spec"]["isCA"] is True
    assert body["spec"]["issuerRef"] == {"name": "vault", "kind": "Issuer", "group": "example.io"}


async def test_create_names_with_uuid4_in_the_pod_namespace_and_uses_the_token() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan(token="pod-token"))
    ((body, token),) = kube.created
    assert uuid.UUID(name).version == 4
    assert body["metadata"]["name"] == name
    assert body["metadata"]["namespace"] == "team-a"
    assert token == "pod-token"
    await issuance.stop()


async def test_create_without_token_uses_the_driver_identity() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    await issuance.create(volume(), plan())
    assert kube.created[0][1] is None
    await issuance.stop()
