"""What kubelet puts in NodePublishVolume, from the Pod and CSIDriver objects."""

from __future__ import annotations

from typing import Any

from certcsi.csi._gen import csi_pb2
from certcsi.sandbox.kubelet.calling import NodeCapabilities
from certcsi.sandbox.kubelet.planning import (
    DriverSpec,
    InlineVolume,
    PodRef,
    TokenSpec,
    inline_volumes,
    lifecycle_problem,
    publish_request,
)

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
    "spec": {
        "serviceAccountName": "api",
        "securityContext": {"fsGroup": 3000},
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {
                "name": "tls",
                "csi": {
                    "driver": "csi.cert-manager.io",
                    "readOnly": True,
                    "fsType": "ext4",
                    "volumeAttributes": {"csi.cert-manager.io/issuer-name": "ca"},
                    "nodePublishSecretRef": {"name": "creds"},
                },
            },
        ],
    },
}


def test_only_csi_volumes_are_inline_volumes() -> None:
    (volume,) = inline_volumes(POD)
    assert volume == InlineVolume(
        name="tls",
        driver="csi.cert-manager.io",
        read_only=True,
        fs_type="ext4",
        attributes={"csi.cert-manager.io/issuer-name": "ca"},
        secret_ref="creds",
    )


def test_read_only_defaults_to_false() -> None:
    volume = InlineVolume.parse({"name": "v", "csi": {"driver": "d"}})
    assert volume is not None
    assert volume.read_only is False


def test_pod_ref_defaults_service_account_and_ignores_a_bool_fs_group() -> None:
    ref = PodRef.parse({"metadata": {"name": "p", "uid": "u"}, "spec": {"securityContext": {"fsGroup": True}}})
    assert ref == PodRef(namespace="default", name="p", uid="u", service_account="default", fs_group=None)


def test_driver_spec_defaults_like_the_api_server() -> None:
    spec = DriverSpec.parse("d", {"spec": {}})
    assert spec.lifecycle_modes == ("Persistent",)
    assert not spec.pod_info_on_mount
    assert not spec.requires_republish
    assert spec.token_requests == ()


def test_driver_spec_reads_token_requests() -> None:
    spec = DriverSpec.parse(
        "d", {"spec": {"tokenRequests": [{"audience": "", "expirationSeconds": 600}, {"audience": "a"}]}}
    )
    assert spec.token_requests == (TokenSpec("", 600), TokenSpec("a", None))


def test_lifecycle_problem_without_csidriver() -> None:
    assert lifecycle_problem(DriverSpec.parse("csi.example.io", None)) == (
        "kubernetes.io/csi: mounter.SetupAt failed to check volume lifecycle mode: "
        'volume mode "Ephemeral" not supported by driver csi.example.io (no CSIDriver object)'
    )


def test_lifecycle_problem_when_ephemeral_is_not_listed() -> None:
    spec = DriverSpec.parse("d", {"spec": {"volumeLifecycleModes": ["Persistent", "Other"]}})
    problem = lifecycle_problem(spec)
    assert problem is not None
    assert problem.endswith('not supported by driver d (only supports ["Persistent" "Other"])')


def test_lifecycle_ok_when_ephemeral_is_listed() -> None:
    assert lifecycle_problem(DriverSpec.parse("d", {"spec": {"volumeLifecycleModes": ["Ephemeral"]}})) is None


def _request(
    driver: DriverSpec, capabilities: NodeCapabilities, tokens: str | None
) -> csi_pb2.NodePublishVolumeRequest:
    (volume,) = inline_volumes(POD)
    return publish_request(
        volume_id="csi-1",
        target_path="/t/mount",
        volume=volume,
        pod=PodRef.parse(POD),
        driver=driver,
        capabilities=capabilities,
        tokens_json=tokens,
        secret_data={"user": "u"},
    )


def test_request_with_pod_info_and_tokens() -> None:
    driver = DriverSpec(name="d", pod_info_on_mount=True, lifecycle_modes=("Ephemeral",))
    request = _request(driver, NodeCapabilities(volume_mount_group=True), '{"":{}}')
    assert dict(request.volume_context) == {
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.storage.k8s.io/pod.name": "web",
        "csi.storage.k8s.io/pod.namespace": "shop",
        "csi.storage.k8s.io/pod.uid": "u-1",
        "csi.storage.k8s.io/serviceAccount.name": "api",
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/serviceAccount.tokens": '{"":{}}',
    }
    assert dict(request.secrets) == {"user": "u"}
    assert request.readonly
    assert request.volume_capability.mount.fs_type == "ext4"
    assert request.volume_capability.mount.volume_mount_group == "3000"


def test_tokens_go_to_secrets_when_asked() -> None:
    driver = DriverSpec(name="d", tokens_in_secrets=True)
    request = _request(driver, NodeCapabilities(), '{"a":{}}')
    assert dict(request.secrets) == {"user": "u", "csi.storage.k8s.io/serviceAccount.tokens": '{"a":{}}'}
    assert "csi.storage.k8s.io/serviceAccount.tokens" not in request.volume_context
    assert request.volume_capability.mount.volume_mount_group == ""
    assert request.volume_capability.access_mode.mode == csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
