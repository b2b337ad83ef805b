"""NodePublishVolume hands the backend a faithful PublishRequest whose repr hides secrets."""

from __future__ import annotations

from csi_harness import TARGET, VOLUME_ID, Harness, publish_request

from certcsi.csi._gen import csi_pb2

TOKEN_KEY = "csi.storage.k8s.io/serviceAccount.tokens"


async def test_fields_are_converted(csi: Harness) -> None:
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4", volume_mount_group="2000"),
        access_mode=csi_pb2.VolumeCapability.AccessMode(
            mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_MULTI_WRITER
        ),
    )
    context = {"csi.storage.k8s.io/ephemeral": "true", "csi.cert-manager.io/issuer-name": "ca"}
    await csi.node.NodePublishVolume(
        publish_request(volume_capability=capability, readonly=False, volume_context=context, secrets={"k": "v"})
    )
    (request,) = csi.backend.published
    assert request.volume_id == VOLUME_ID
    assert request.target_path == TARGET
    assert request.readonly is False
    assert dict(request.volume_context) == context
    assert dict(request.secrets) == {"k": "v"}
    assert request.volume_mount_group == "2000"
    assert request.fs_type == "ext4"
    assert request.access_mode == csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_MULTI_WRITER


async def test_readonly_true_is_passed_through(csi: Harness) -> None:
    await csi.node.NodePublishVolume(publish_request(readonly=True))
    assert csi.backend.published[0].readonly is True


async def test_repr_shows_keys_but_no_secret_values(csi: Harness) -> None:
    context = {TOKEN_KEY: '{"": {"token": "tok-VALUE-1"}}', "csi.cert-manager.io/pkcs12-password": "pw-VALUE-2"}
    await csi.node.NodePublishVolume(publish_request(volume_context=context, secrets={"token": "sec-VALUE-3"}))
    text = repr(csi.backend.published[0])
    assert TOKEN_KEY in text
    assert "csi.cert-manager.io/pkcs12-password" in text
    for value in ("tok-VALUE-1", "pw-VALUE-2", "sec-VALUE-3"):
        assert value not in text
